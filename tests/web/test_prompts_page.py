"""The console's Prompts page over real HTTP: an admin replaces a Mandarin prompt by a recording and reverts
it; a bad file is refused with the field named; a technician looks but cannot change."""

from __future__ import annotations

import subprocess

from tests import prompt_fixtures
from tests.web.test_callcenter_pages import session_for, token_of

install = prompt_fixtures.install  # the fixture: an install with the test's own Asterisk root


def test_an_admin_replaces_a_prompt_and_reverts_it(console, install, tmp_path):
    s = session_for(console, "boss", "admin")
    url = f"{console.url}/prompts"
    page = s.get(url).text
    assert "您现在排在第" in page and "queue-thereare" in page
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(tmp_path / "b.wav"), "synth", "2", "sine", "300"],
                   check=True)
    bad = s.post(url, data={"csrf_token": token_of(s, url), "prompt": "queue-thereare", "language": "zh"},
                 files={"file": ("b.wav", b"just some text", "audio/wav")})
    assert bad.status_code == 422 and "file: not a sound file Linebox can read" in bad.text
    ok = s.post(url, data={"csrf_token": token_of(s, url), "prompt": "queue-thereare", "language": "zh"},
                files={"file": ("b.wav", (tmp_path / "b.wav").read_bytes(), "audio/wav")})
    assert ok.status_code == 200 and "zh/queue-thereare: callers now hear your recording (2 s)." in ok.text
    played = install.prompt_place().folder("zh") / "queue-thereare.sln"
    assert played.stat().st_size == 32000
    reverted = s.post(url, data={"csrf_token": token_of(s, url), "revert": "queue-thereare|zh"})
    assert reverted.status_code == 200 and "the generated prompt is played again" in reverted.text
    assert played.stat().st_size != 32000

    tech = session_for(console, "tech", "technician")
    assert "queue-thereare" in tech.get(url).text
    refused = tech.post(url, data={"csrf_token": token_of(tech, url), "revert": "queue-thereare|zh"})
    assert refused.status_code == 403
