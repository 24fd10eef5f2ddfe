"""Transfers, consultation, three-way calls and parking on real calls (issue 21 item 5).

One site and one carrier serve the module: an outside caller reaches queue 700, agent 201 answers and
hands the call on, by the phone's feature codes or from the agent page (real HTTP, the service's AMI
transfer user).  Every phone plays its own tone, so what each one hears says who it is connected to:
the caller 600 Hz, agent 201 700 Hz, extension 202 1000 Hz, supervisor 203 1300 Hz, 204 1600 Hz.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from appliance.asterisk import ami_users
from appliance.callcenter import callrecords, collector, reports, transfers
from appliance.errors import SiteError
from appliance.model.models import AuditEntry, CallRecord, QueueCall
from tests.lab.helpers import add, add_carrier_trunk, collect_until, loud_seconds, tone_seconds
from tests.lab.test_agent_desk import session_for_agent
from tests.web.test_callcenter_pages import token_of

pytestmark = pytest.mark.lab

CALLER = "+15550001111"  # the carrier's telco line calls with this number
CALLER_TONE = "600"
TONES = {"201": "700", "202": "1000", "203": "1300", "204": "1600"}


@dataclass
class Lab:
    pbx: object
    phones: object
    url: str
    agent: requests.Session  # the agent's console session, extension 201 claimed

    def transfer(self, how: str, kind: str = "", to: str = "") -> requests.Response:
        """What the agent page's transfer control posts."""
        return self.agent.post(f"{self.url}/agent/transfer", data={
            "csrf_token": token_of(self.agent, f"{self.url}/agent"), "how": how, "kind": kind, "to": to})


@pytest.fixture(scope="module")
def lab(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx
    from tests.conftest import Pbx, wait_reachable

    install, instance = start_pbx(tmp_path_factory.mktemp("transfers") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    phones = server = None
    try:
        for number in TONES:
            add("extension", number=number, name=f"Phone {number}")
        add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=15, wrapup_seconds=0,
            members=[{"extension": "201"}], announce_position=False)
        add("queue", number="701", name="Billing", strategy="ringall", agent_ring_seconds=15, wrapup_seconds=0,
            members=[{"extension": "202"}], announce_position=False)
        add("inbound_route", name="support-line", did="5553700", destination="queue:700")
        add("inbound_route", name="direct-202", did="5553702", destination="extension:202")
        pbx.apply()
        from appliance.site import service
        phones = start_carrier(instance.sip_port, [Phone(e.number, e.password)
                                                   for e in service.list_objects("extension")], rootfs, [])
        phones.wait_registered(list(TONES))
        wait_reachable(pbx, list(TONES))
        add_carrier_trunk(phones)
        pbx.apply()
        from appliance.services.http_server import make_server
        from appliance.web.app import create_app
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        yield Lab(pbx, phones, server.url, session_for_agent(server.url))
    finally:
        if server is not None:
            server.close()
        if phones is not None:
            phones.stop()
        instance.stop()
        from appliance.model.database import close_database
        close_database()


def _phone(lab: Lab, number: str, keys: str = "", hold: int = 12, tag: str = "") -> None:
    lab.phones.set_behaviour(number, "answer", hold=hold, ring=0, keys=keys, tone=TONES[number], record=tag)


def _idle(lab: Lab, timeout: float = 20) -> None:
    """Until the pbx has no channel left: the next test starts from a quiet pbx."""
    deadline = time.monotonic() + timeout
    while lab.pbx.cli("core show channels concise").strip():
        assert time.monotonic() < deadline, lab.pbx.cli("core show channels concise")
        time.sleep(0.2)


def _records(lab: Lab, linkedid_of, timeout: float = 30) -> list[CallRecord]:
    sources = collector.Sources.in_log_dir(lab.pbx.install.asterisk_log_dir)
    return collect_until(sources, lambda: list(CallRecord.select().where(linkedid_of)), timeout=timeout)


def test_a_blind_transfer_from_the_agents_phone_lands_on_the_extension_with_audio_both_ways(lab):
    _idle(lab)
    _phone(lab, "201", keys="##/202", hold=30)
    _phone(lab, "202", hold=6, tag="blind-202")
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag="blind", hold=20, record=True, tone=CALLER_TONE)
    lab.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "202", since=mark, timeout=30)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "blind", since=mark, timeout=40)
    caller_heard = lab.phones.heard("blind")
    assert tone_seconds(caller_heard, 1000) >= 3, "the caller hears 202 after the transfer"
    assert tone_seconds(lab.phones.heard("blind-202"), 600) >= 3, "202 hears the caller"


def test_an_attended_transfer_from_the_phone_consults_then_connects_the_caller(lab):
    _idle(lab)
    _phone(lab, "201", keys="*2/202", hold=4)  # talks to 202 for 4 s, then hangs up: the transfer completes
    _phone(lab, "202", hold=8, tag="attended-202")
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag="attended", hold=30, record=True, tone=CALLER_TONE)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "attended", since=mark, timeout=40)
    caller_heard, target_heard = lab.phones.heard("attended"), lab.phones.heard("attended-202")
    assert tone_seconds(target_heard, 700) >= 2, "202 talked with the agent first (the consultation)"
    assert tone_seconds(caller_heard, 1000) >= 3, "the caller hears 202 after the transfer"
    assert tone_seconds(target_heard, 600) >= 3, "202 hears the caller"


def test_a_consultation_with_a_supervisor_becomes_a_three_way_call(lab):
    _idle(lab)
    # the agent consults supervisor 203, presses *3: all three in one call for 5 s, then the agent leaves
    _phone(lab, "201", keys="*2/203/w2/*3", hold=5, tag="three-201")
    _phone(lab, "203", hold=12, tag="three-203")
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag="three", hold=30, record=True, tone=CALLER_TONE)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "three", since=mark, timeout=40)
    heard = {who: lab.phones.heard(tag) for who, tag in (("caller", "three"), ("201", "three-201"),
                                                          ("203", "three-203"))}
    mixed = {who: {f: tone_seconds(path, float(f), share=0.25) for f in ("600", "700", "1300")}
             for who, path in heard.items()}
    print(f"\nthree-way call, seconds of each tone heard: {mixed}")
    assert mixed["caller"]["700"] >= 2 and mixed["caller"]["1300"] >= 2, mixed
    assert mixed["201"]["600"] >= 2 and mixed["201"]["1300"] >= 2, mixed
    assert mixed["203"]["600"] >= 2 and mixed["203"]["700"] >= 2, mixed


def _parked_slot(lab: Lab, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        shown = lab.pbx.cli("parking show default")
        for line in shown.splitlines():
            if line.strip().startswith("Space"):
                return line.split(":", 1)[1].strip()
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def test_a_call_parked_from_the_phone_is_picked_up_from_another_phone(lab):
    _idle(lab)
    _phone(lab, "201", keys="##/70", hold=10)
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag="parked", hold=30, record=True, tone=CALLER_TONE)
    slot = _parked_slot(lab)
    assert slot == "71"
    lab.phones.call("ph204", slot, tag="pickup", hold=5, record=True, tone=TONES["204"])
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "pickup", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("pickup"), 600) >= 3, "204 hears the parked caller"
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "parked", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("parked"), 1600) >= 3, "the parked caller hears 204"


def test_the_phone_that_placed_a_call_transfers_it_and_the_other_two_talk(lab):
    _idle(lab)
    _phone(lab, "202", hold=20, tag="placed-202")
    _phone(lab, "203", hold=6, tag="placed-203")
    mark = lab.phones.mark()
    lab.phones.call("ph201", "202", tag="placed", hold=15, tone=TONES["201"], dtmf="##203")  # ## 203 once up
    lab.phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "203", since=mark, timeout=30)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "placed", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("placed-203"), 1000) >= 3, "203 talks with 202 after the transfer"
    assert tone_seconds(lab.phones.heard("placed-202"), 1300) >= 3, "202 talks with 203 after the transfer"

    # an outside caller pressing the same keys transfers nothing: 202 hears it all along (no music on hold)
    _phone(lab, "202", hold=10, tag="outside-202")
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553702", tag="outside", hold=6, tone=CALLER_TONE, dtmf="##203")
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "outside", since=mark, timeout=30)
    assert not [e for e in lab.phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming"
                and e.get("Exten") == "203"], "an outside caller transferred the call"
    assert tone_seconds(lab.phones.heard("outside-202"), 600) >= 4, "202 talked with the outside caller"


def test_one_touch_parking_tells_the_agent_the_slot_and_another_phone_picks_the_call_up(lab):
    _idle(lab)
    _phone(lab, "201", keys="w1/*8", hold=20, tag="touch-201")  # *8 a second into the call: parked
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag="touch-parked", hold=30, record=True, tone=CALLER_TONE)
    assert _parked_slot(lab) == "71"
    agent_heard = lab.phones.heard("touch-201")  # the agent's phone is free again once the slot was said
    assert tone_seconds(agent_heard, 600) >= 0.5, "the agent talked with the caller first"
    said = loud_seconds(agent_heard, after=0) - tone_seconds(agent_heard, 600, share=0.5)
    assert said >= 0.5, "the agent heard the slot said"
    lab.phones.call("ph204", "71", tag="touch-pickup", hold=5, record=True, tone=TONES["204"])
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "touch-pickup", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("touch-pickup"), 600) >= 3, "204 hears the parked caller"
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "touch-parked", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("touch-parked"), 1600) >= 3, "the parked caller hears 204"


def _on_call(lab: Lab, tag: str, hold: int = 30, **phone) -> int:
    """An outside call through queue 700 that agent 201 has answered; the carrier's mark before it."""
    _idle(lab)
    _phone(lab, "201", hold=hold, **phone)
    mark = lab.phones.mark()
    lab.phones.call("telco", "5553700", tag=tag, hold=30, record=True, tone=CALLER_TONE)
    lab.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=30)
    deadline = time.monotonic() + 10  # the agent's channel in its bridge with the caller, as the page finds it
    with lab.pbx.install.connect_ami(user=ami_users.TRANSFER) as ami:
        while True:
            try:
                transfers.agent_channel(ami, "201")
                return mark
            except SiteError:
                if time.monotonic() > deadline:
                    raise AssertionError(ami.action("CoreShowChannels").response) from None
                time.sleep(0.1)


def test_a_blind_transfer_from_the_page_to_a_queue_is_one_contact_in_the_records_and_the_report(lab):
    mark = _on_call(lab, "page-blind")
    # what the agent types is checked against the site first: nothing else reaches Asterisk
    for kind, to, word in (("extension", "299", "299"), ("queue", "799", "799"),
                           ("number", "202,1)\r\nAction: Originate", "digits")):
        refused = lab.transfer("blind", kind, to)
        assert refused.status_code == 422 and word in refused.json()["problems"], refused.text
    _phone(lab, "202", hold=6, tag="page-blind-202")  # queue 701's agent
    answer = lab.transfer("blind", "queue", "701")
    assert answer.status_code == 200 and answer.json()["done"], answer.text
    lab.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "202", since=mark, timeout=30)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "page-blind", since=mark, timeout=40)
    assert not [e for e in lab.phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming"
                and e.get("Exten") not in ("201", "202")], "a refused transfer rang a phone"
    assert tone_seconds(lab.phones.heard("page-blind"), 1000) >= 3, "the caller hears 202 after the transfer"
    assert tone_seconds(lab.phones.heard("page-blind-202"), 600) >= 3, "202 hears the caller"
    audited = AuditEntry.select().where(AuditEntry.action == "transfer-blind").order_by(AuditEntry.id.desc()).first()
    assert audited is not None and audited.user == "alice" and audited.after == {"to": "701", "kind": "queue"}
    # one customer contact across the legs: the agent's and 202's legs share the caller's linkedid
    agent_leg = _records(lab, CallRecord.dstchannel.startswith("PJSIP/201-"))
    linkedid = max(agent_leg, key=lambda r: r.start).linkedid
    legs = _records(lab, CallRecord.linkedid == linkedid)
    assert any(leg.dstchannel.startswith("PJSIP/202-") for leg in legs), [(r.channel, r.dstchannel) for r in legs]
    calls, _total = callrecords.search_calls(callrecords.parse_search({"number": CALLER}), limit=50)
    shown = [c for c in calls if c.linkedid == linkedid]
    assert len(shown) == 1 and len(shown[0].legs) >= 2, [(c.linkedid, c.called, len(c.legs)) for c in calls]
    # the report: one answered call in each queue, the transfer is no repeat call (FCR)
    stays = {q.queue: q for q in QueueCall.select().where(QueueCall.callid == linkedid)}
    assert set(stays) == {"700", "701"} and all(q.outcome == "answered" for q in stays.values()), stays
    start, end = reports.today()
    [billing] = reports.queue_report(start, end + timedelta(seconds=1), queue="701")
    assert (billing.offered, billing.answered, billing.fcr_pct) == (1, 1, 100.0), billing


def test_an_attended_transfer_from_the_page_consults_then_connects(lab):
    mark = _on_call(lab, "page-attended", hold=6)  # the agent hangs up 6 s into the call: the hand-over
    _phone(lab, "203", hold=10, tag="page-attended-203")
    answer = lab.transfer("attended", "extension", "203")
    assert answer.status_code == 200 and answer.json()["done"], answer.text
    lab.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "203", since=mark, timeout=30)
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "page-attended", since=mark, timeout=60)
    assert tone_seconds(lab.phones.heard("page-attended-203"), 700) >= 1, "203 talked with the agent first"
    assert tone_seconds(lab.phones.heard("page-attended"), 1300) >= 3, "the caller hears 203 afterwards"
    assert tone_seconds(lab.phones.heard("page-attended-203"), 600) >= 3, "203 hears the caller"


def test_a_call_parked_from_the_page_shows_its_slot_and_is_picked_up_from_another_phone(lab):
    mark = _on_call(lab, "page-parked")
    answer = lab.transfer("park")
    assert answer.status_code == 200 and answer.json()["slot"] == "71", answer.text
    assert "71" in answer.json()["message"]
    lab.phones.call("ph204", "71", tag="page-pickup", hold=5, record=True, tone=TONES["204"])
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "page-pickup", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("page-pickup"), 600) >= 3, "204 hears the parked caller"
    lab.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "page-parked", since=mark, timeout=30)
    assert tone_seconds(lab.phones.heard("page-parked"), 1600) >= 3, "the parked caller hears 204"


