"""Listen, whisper and barge on the wallboard: who may ask, and what is refused before any phone rings.

No Asterisk runs here: every request below is refused before AMI is reached (the lab test
tests/lab/test_supervise.py rings real phones and measures who hears whom).
"""

from __future__ import annotations

from appliance.model.models import AuditEntry
from appliance.site import service
from tests.web.test_callcenter_pages import session_for, token_of


def _site() -> None:
    service.save_object("extension", {"number": "201", "name": "Agent"}, user="test", create=True)
    service.save_object("extension", {"number": "211", "name": "Supervisor"}, user="test", create=True)


def _post(s, console, **fields):
    return s.post(f"{console.url}/wallboard/supervise",
                  data={"csrf_token": token_of(s, f"{console.url}/wallboard"), **fields})


def test_only_supervisors_and_admins_may_listen_and_bad_requests_name_their_field(console):
    _site()
    technician = session_for(console, "tom", "technician")
    page = technician.get(f"{console.url}/wallboard").text
    assert 'id="supervise"' not in page  # a technician sees the board, without the buttons
    assert _post(technician, console, agent="201", mode="listen", extension="211").status_code == 403
    agent = session_for(console, "amy", "agent")
    assert agent.post(f"{console.url}/wallboard/supervise", data={"agent": "201"}).status_code in (400, 403)

    sue = session_for(console, "sue", "supervisor")
    assert 'id="supervise"' in sue.get(f"{console.url}/wallboard").text
    for fields, words in (({"agent": "201", "mode": "shout", "extension": "211"}, "choose listen, whisper or barge"),
                          ({"agent": "299", "mode": "listen", "extension": "211"}, "no extension 299"),
                          ({"agent": "201", "mode": "listen", "extension": "201"}, "cannot be the agent's"),
                          ({"agent": "201", "mode": "listen", "extension": ""}, "say which extension")):
        answer = _post(sue, console, **fields)
        assert answer.status_code == 422 and words in answer.json()["problems"], (fields, answer.text)

    service.save_settings({"supervisor_monitoring": "forbidden"}, "test")
    answer = _post(sue, console, agent="201", mode="whisper", extension="211")
    assert answer.status_code == 422 and "does not allow" in answer.json()["problems"], answer.text
    assert 'id="supervise"' not in sue.get(f"{console.url}/wallboard").text
    assert not AuditEntry.select().where(AuditEntry.action.in_(("listen", "whisper", "barge"))).exists()
