"""``/api/v1/prompts``: list the prompts, replace one by a recording, revert it; bad input refused by field.

Real HTTP through the WSGI server, real sox; the install's Asterisk root is the test's own folder."""

from __future__ import annotations

import base64
import subprocess

from tests import prompt_fixtures

install = prompt_fixtures.install  # the fixture: an install with the test's own Asterisk root


def test_an_admin_replaces_and_reverts_a_prompt_through_the_api(api, install, tmp_path):
    admin = api.client("admin")
    listed = admin.get("/api/v1/prompts")
    assert listed.status == 200
    items = {(i["name"], i["language"]): i for i in listed.json["items"]}
    assert items[("queue-thereare", "zh")] == {"name": "queue-thereare", "language": "zh", "text": "您现在排在第",
                                               "source": "generated", "used_by": "queue position"}
    assert items[("invalid", "en")]["source"] == "asterisk"

    wav = tmp_path / "brand.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(wav), "synth", "1", "sine", "300"], check=True)
    body = {"filename": "brand.wav", "audio_base64": base64.b64encode(wav.read_bytes()).decode()}
    assert api.client("supervisor").put("/api/v1/prompts/zh/queue-thereare", body).status == 403
    done = admin.put("/api/v1/prompts/zh/queue-thereare", body)
    assert done.status == 200, done.text
    assert done.json == {"name": "queue-thereare", "language": "zh", "source": "recording", "seconds": 1.0}
    played = install.prompt_place().folder("zh") / "queue-thereare.sln"
    assert played.stat().st_size == 16000  # 1 s at 8 kHz, 16-bit
    sources = {(i["name"], i["language"]): i["source"] for i in admin.get("/api/v1/prompts").json["items"]}
    assert sources[("queue-thereare", "zh")] == "recording"

    bad = admin.put("/api/v1/prompts/fr/queue-thereare", body)
    assert bad.status == 422 and bad.json["problems"][0]["field"] == "language", bad.text
    bad = admin.put("/api/v1/prompts/zh/no-such", body)
    assert bad.status == 422 and bad.json["problems"][0]["field"] == "prompt", bad.text
    bad = admin.put("/api/v1/prompts/zh/invalid", {**body, "filename": "x.exe"})
    assert bad.status == 422 and bad.json["problems"][0]["field"] == "file", bad.text
    bad = admin.put("/api/v1/prompts/zh/invalid", {**body, "audio_base64": "%%%"})
    assert bad.status == 422 and bad.json["problems"][0]["field"] == "audio_base64", bad.text

    reverted = admin.delete("/api/v1/prompts/zh/queue-thereare")
    assert reverted.status == 200 and reverted.json["reverted"] is True, reverted.text
    assert played.read_bytes() != b"" and played.stat().st_size != 16000  # the generated one again
    audit = admin.get("/api/v1/audit?kind=prompt").json["items"]
    assert [(a["user"], a["action"], a["key"]) for a in audit] == [("admin", "delete", "zh/queue-thereare"),
                                                                    ("admin", "upload", "zh/queue-thereare")]
