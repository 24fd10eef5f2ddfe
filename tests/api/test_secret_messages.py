"""A rejected secret is never repeated back, and other rejected values come back shortened.

A password typed into the wrong field, a PIN with a typo, a password with one character too many: the
message names the field and says what is allowed, but the value itself would end up in a browser's
console, a proxy's log, a terminal's scroll-back or a support ticket.  Other rejected values are
echoed (it helps to see what was sent), cut to a few dozen characters so a pasted file cannot fill
the reply.  Checked through the real HTTP API (cheroot) and the real ``linebox config import``.
"""

from __future__ import annotations

from click.testing import CliRunner

from appliance.cli.linebox import main
from appliance.errors import SHOWN_MAX

EXT = "/api/v1/extensions"
# each breaks the schema's pattern (a character outside letters and digits; letters in a PIN; too long)
BAD_PASSWORD = "Sekr3t-Horse!Battery"
BAD_PIN = "12ab90"
LONG_PASSWORD = "K" * 70 + "q9"


def test_api_never_echoes_a_rejected_password_or_pin(api):
    client = api.client()
    for body in ({"number": "100", "password": BAD_PASSWORD}, {"number": "100", "voicemail_pin": BAD_PIN},
                 {"number": "100", "password": LONG_PASSWORD}):
        reply = client.post(EXT, body)
        assert reply.status == 422, reply.text
        field = "password" if "password" in body else "voicemail_pin"
        assert any(field in e["field"] for e in reply.json["problems"]), reply.text  # the field is named
        secret = body[field]
        assert secret not in reply.text and secret[:8] not in reply.text, reply.text
    for body in ({"name": "telco", "host": "sip.example.net", "password": "pass word!"},):
        reply = client.post("/api/v1/trunks", body)
        assert reply.status == 422, reply.text
        assert "pass word" not in reply.text, reply.text


def test_api_shortens_other_rejected_values(api):
    name = "x" * 5000
    reply = api.client().post(EXT, {"number": "100", "name": 12, "email": name})
    assert reply.status == 422, reply.text
    assert "x" * (SHOWN_MAX + 1) not in reply.text and len(reply.text) < 2000, reply.text[:300]


def test_config_import_never_echoes_a_rejected_secret(install, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("extensions:\n"
                    f"  - number: '100'\n    password: '{BAD_PASSWORD}'\n"
                    f"  - number: '101'\n    voicemail_pin: '{BAD_PIN}'\n"
                    "trunks:\n"
                    "  - name: telco\n    host: sip.example.net\n    password: 'pass word!'\n"
                    f"  - name: telco2\n    host: '{'h' * 400}'\n")
    result = CliRunner().invoke(main, ["--home", str(install.home), "config", "import", str(site)])
    assert result.exit_code != 0
    assert "line 3" in result.output and "password" in result.output, result.output  # field and line named
    assert "voicemail_pin" in result.output, result.output
    for secret in (BAD_PASSWORD, BAD_PIN, "pass word"):
        assert secret not in result.output, result.output
    assert "h" * (SHOWN_MAX + 1) not in result.output, result.output
    assert "Traceback" not in result.output
