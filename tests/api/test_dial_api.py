"""``POST /dial`` (click-to-dial) over real HTTP: who may, and the field named when the number is bad.  The
call itself is placed in tests/lab/test_crm.py."""

from __future__ import annotations

from appliance.callcenter import agents
from appliance.model.models import Setting
from appliance.site import service


def test_dial_is_for_admins_and_agents_and_names_the_field_at_fault(api):
    assert api.client("supervisor").post("/api/v1/dial", {"number": "110"}).status == 403
    assert api.client("technician").post("/api/v1/dial", {"number": "110"}).status == 403
    no_extension = api.client("agent").post("/api/v1/dial", {"number": "110"})
    assert no_extension.status == 422 and no_extension.json["problems"][0]["field"] == "extension"
    service.save_object("extension", {"number": "100", "name": "Desk"}, "test", create=True)
    Setting.replace(key=agents._key("agent"), value="100").execute()  # what the agent page's claim stores
    bad = api.client("agent").post("/api/v1/dial", {"number": "1\r\nAction: Originate"})
    assert bad.status == 422 and bad.json["problems"][0]["field"] == "number", bad.text
    assert api.client("agent").post("/api/v1/dial", {"number": "110", "extra": 1}).status == 422
    # Asterisk is not running here: refused with the reason, nothing half done
    down = api.client("agent").post("/api/v1/dial", {"number": "110"})
    assert down.status == 422 and "Asterisk" in down.text
