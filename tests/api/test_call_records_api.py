"""Call records over the REST API: the console's search, paged and filtered, one call with its legs and
recordings; the same roles as the recordings (admin, supervisor); a bad filter is 422 naming it."""

from __future__ import annotations

import datetime

from appliance.model.models import CallRecord, QueueCall
from appliance.site import localtime

CALLS = "/api/v1/calls"


def _calls() -> None:
    now = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(minutes=5)
    start = localtime.asterisk_text(now.timestamp())
    for n in range(3):
        CallRecord.create(uniqueid=f"1800.{n}", sequence=0, linkedid=f"1800.{n}", start=start, src=f"1380000000{n}",
                          dst="700", disposition="ANSWERED" if n else "NO ANSWER", billsec=30 * n, duration=40)
    CallRecord.create(uniqueid="1800.9", sequence=0, linkedid="1800.1", start=start, src="13800000001", dst="201",
                      disposition="ANSWERED", billsec=30, duration=35, lastapp="Dial", trunk="", channel="PJSIP/201-7")
    QueueCall.create(callid="1800.1", queue="700", entered=int(now.timestamp()), caller="13800000001",
                     outcome="answered", wait_seconds=5, talk_seconds=30, agent="201")


def test_calls_are_searched_paged_and_shown_with_their_legs(api):
    _calls()
    client = api.client("supervisor")
    listed = client.get(f"{CALLS}?limit=2")
    assert listed.status == 200 and listed.json["total"] == 3 and len(listed.json["items"]) == 2
    answered = client.get(f"{CALLS}?outcome=ANSWERED&queue=700").json
    assert [c["id"] for c in answered["items"]] == ["1800.1"] and answered["items"][0]["legs"] == 2
    one = client.get(f"{CALLS}/1800.1").json
    assert [leg["channel"] for leg in one["legs"]] == ["", "PJSIP/201-7"]
    assert one["queue_stays"][0]["agent"] == "201" and one["recordings"] == []
    assert client.get(f"{CALLS}/nope").status == 404


def test_a_bad_filter_names_the_field_and_other_roles_are_refused(api):
    bad = api.client("admin").get(f"{CALLS}?from=yesterday&number=1;2")
    assert bad.status == 422 and sorted(p["field"] for p in bad.json["problems"]) == ["from", "number"]
    for role in ("technician", "agent"):
        assert api.client(role).get(CALLS).status == 403
    assert api.client(None).get(CALLS).status == 401
    doc = api.client(None).get("/api/v1/openapi.json").json
    assert doc["paths"]["/calls"]["get"]["x-roles"] == ["admin", "supervisor"]
