"""The call-flow trace against real calls: for every branch of a test site, the path Asterisk took is the
path ``linebox trace`` predicted.

The test site has a caller-ID route beside a route for the same numbers, three time conditions (open
all week, closed by a holiday today, closed because its only range is on another day), an IVR whose
keys, wrong keys and silence each lead elsewhere, a queue nobody answers that overflows to a ring group,
whose member does not answer either, so it falls back to voicemail, and an announcement that hangs up.
The carrier calls each branch at once (each call on its own number of the main route's ``_55501XX``,
so its channel is known in Asterisk's log); the pbx writes what it executes to a log channel added at
run time (``logger add channel``: Asterisk's own ``Executing [exten@context:priority]`` lines), and the
contexts each call went through, read back as the site's objects, must equal the trace's steps.  The
trace is asked at the time of the call (the clock is not moved: the conditions are made open or closed
at the present), with the caller's keys and nobody answering.

The order in which Asterisk tries the inbound routes (``dialplan show from-trunk``) is checked against
the trace's order too.  One pbx and one carrier for the module; about 40 s.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.model.database import close_database
from appliance.provisioning import trace
from appliance.site import service
from appliance.site.schemas import DAYS
from tests.conftest import Pbx
from tests.lab.helpers import add, add_carrier_trunk

pytestmark = pytest.mark.lab

ZONE = "Asia/Shanghai"  # the conditions' zone, not the box's (UTC in the lab)
VIP = "+15550009999"
LOG = "trace-test.log"
ALWAYS = [{"days": "mon-sun", "start": "00:00", "end": "24:00"}]

# tag: (number called, caller, keys as the trace takes them, DTMF the caller sends)
CALLS = {
    "vip": ("5550101", VIP, [], ""),
    "key1": ("5550102", "+8613800000001", ["1"], "1"),
    "key2": ("5550103", "+8613800000002", ["2"], "2"),
    # a wrong key, the menu again, a wrong key again: given up.  The second key comes 6.5 s after the first:
    # after the 4.1 s "invalid" prompt (Playback does not listen for keys), well inside the 5 s wait after
    # the greeting that follows it (SendDTMF: "w" is half a second)
    "wrong": ("5550104", "+8613800000003", ["9", "9"], "9" + "w" * 13 + "9"),
    "silent": ("5550105", "+8613800000004", [trace.NO_KEY], ""),
    "holiday": ("5550200", "+8613800000005", [], ""),
    "night": ("5550300", "+8613800000006", [], ""),
}

EXECUTING = re.compile(r'Executing \[(?P<exten>[^@\]]*)@(?P<context>[^:\]]+):(?P<priority>\d+)\] (?P<app>\w+)\('
                       r'"(?P<chan>[^"]+)", "(?P<args>.*)"\) in new stack')
# the contexts a destination's Goto lands in, by prefix: the node they stand for
DISPATCH = ("from-trunk", "tc-", "ivr-", "ann-", "ext-queues", "ext-ringgroups")


def _build_site() -> None:
    tz = ZoneInfo(ZONE)
    today = datetime.now(tz).date()
    add("extension", number="201", name="Reception", voicemail=True)
    add("extension", number="202", name="Sales", ring_seconds=5)
    add("ring_group", number="600", name="Sales desk", members=["202"], ring_seconds=5, fallback="voicemail:201")
    add("queue", number="701", name="Orders", max_wait_seconds=3, overflow="ringgroup:600")
    add("announcement", name="sorry", sound="vm-goodbye", destination="hangup")
    add("ivr", name="main", greeting="beep", timeout_seconds=5, invalid_retries=1, timeout_retries=0,
        options=[{"digit": "1", "destination": "queue:701"}, {"digit": "2", "destination": "ringgroup:600"}],
        invalid_destination="voicemail:201", timeout_destination="extension:202")
    add("time_condition", name="office", timezone=ZONE, ranges=ALWAYS, open_destination="ivr:main",
        closed_destination="voicemail:201")
    # today (and tomorrow, should the calls cross midnight in Shanghai) are holidays
    add("time_condition", name="holidays", timezone=ZONE, ranges=ALWAYS,
        holidays=[{"date": str(today), "name": "Test day"}, {"date": str(today + timedelta(days=1)), "name": "Next"}],
        open_destination="ivr:main", closed_destination="voicemail:201")
    # open only three days from now
    add("time_condition", name="night", timezone=ZONE,
        ranges=[{"days": DAYS[(today.weekday() + 3) % 7], "start": "00:00", "end": "24:00"}],
        open_destination="ivr:main", closed_destination="announcement:sorry")
    add("inbound_route", name="main", did="_55501XX", destination="timecondition:office")
    add("inbound_route", name="vip", did="_55501XX", cid=VIP, destination="ringgroup:600")
    add("inbound_route", name="holiday", did="5550200", destination="timecondition:holidays")
    add("inbound_route", name="night", did="5550300", destination="timecondition:night")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("trace") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    carrier = None
    try:
        _build_site()
        pbx.apply()
        phones = [Phone(e.number, e.password) for e in service.list_objects("extension")]
        carrier = start_carrier(instance.sip_port, phones, rootfs)
        carrier.wait_registered(["201", "202"])
        add_carrier_trunk(carrier)
        pbx.apply()
        carrier.set_behaviour("202", "noanswer")
        # Asterisk's own account of what it executes, in a log of its own from now on
        pbx.cli(f"logger add channel {LOG} verbose(3)")
        assert (instance.log_dir / LOG).exists(), pbx.cli("logger show channels")
        yield pbx, carrier
    finally:
        if carrier is not None:
            carrier.stop()
        instance.stop()
        close_database()


def _executed(pbx: Pbx) -> list[re.Match]:
    path = pbx.instance.log_dir / LOG
    return list(EXECUTING.finditer(path.read_text(errors="replace"))) if path.exists() else []


def _path_taken(lines: list[re.Match], number: str) -> list[str]:
    """The site objects the call to ``number`` went through, from the lines Asterisk logged for its channel;
    a menu with the extensions each key ran there (``ivr:main(i,i)``), as ``Trace.path`` writes them."""
    channel = next((m["chan"] for m in lines if m["context"] == "from-trunk" and m["exten"] == number), None)
    if channel is None:
        return []
    nodes: list[str] = []
    for m in lines:
        if m["chan"] != channel:
            continue
        context, exten, app, args = m["context"], m["exten"], m["app"], m["args"]
        node = ""
        if context == "from-trunk" and app == "NoOp" and args.startswith("inbound route "):
            node = "route:" + args.removeprefix("inbound route ")
        elif context.startswith("tc-"):
            node = "timecondition:" + context.removeprefix("tc-")
        elif context.startswith("ivr-"):
            menu = "ivr:" + context.removeprefix("ivr-")
            if exten == "s" and m["priority"] == "1" or not nodes or not nodes[-1].startswith(menu):
                nodes.append(menu)  # a visit of the menu (s,1: entered again by a Goto is a new visit)
            elif exten != "s" and m["priority"] == "1":  # a key (a wrong one, none) ran this extension
                keys = nodes[-1].removeprefix(menu).strip("()")
                nodes[-1] = f"{menu}({keys + ',' if keys else ''}{exten})"
        elif context.startswith("ann-"):
            node = "announcement:" + context.removeprefix("ann-")
        elif context == "ext-queues":
            node = f"queue:{exten}"
        elif context == "ext-ringgroups":
            node = f"ringgroup:{exten}"
        elif context == "ext-local":
            node = f"extension:{exten}"
        if app == "VoiceMail":
            node = "voicemail:" + args.split("@", 1)[0]
        elif app == "Hangup" and context.startswith(DISPATCH):
            node = "hangup"  # a destination "hangup", not the end of a subroutine
        if node and (not nodes or nodes[-1] != node):
            nodes.append(node)
    return nodes


def test_asterisk_tries_the_inbound_routes_in_the_traces_order(lab):
    pbx, _ = lab
    shown = pbx.cli("dialplan show from-trunk")
    # "  '_55501XX' (CID match '+15550009999') =>  1. NoOp(inbound route vip)"
    listed = re.findall(r"^\s*'([^']+)'(?: \(CID match '([^']+)'\))?\s+=>\s+1\.\s+NoOp\(inbound route ([^)]+)\)",
                        shown, re.MULTILINE)
    predicted = [(e.exten, e.cid, e.route.name) for e in trace.route_entries(service.snapshot())]
    assert listed == predicted, shown


def test_every_branch_takes_the_path_the_trace_predicted(lab):
    pbx, carrier = lab
    site = service.snapshot()
    predicted = {}
    mark = carrier.mark()
    for tag, (number, caller, keys, dtmf) in CALLS.items():
        predicted[tag] = trace.trace(site, number, caller, None, keys, answered=False)
        carrier.call("telco", number, tag=tag, dtmf=dtmf, hold=18, caller=caller)
    expected = {tag: t.path for tag, t in predicted.items()}
    # every branch of the site is exercised: the trace's own view of where each call ends
    assert expected == {
        "vip": ["route:vip", "ringgroup:600", "voicemail:201"],
        "key1": ["route:main", "timecondition:office", "ivr:main(1)", "queue:701", "ringgroup:600", "voicemail:201"],
        "key2": ["route:main", "timecondition:office", "ivr:main(2)", "ringgroup:600", "voicemail:201"],
        "wrong": ["route:main", "timecondition:office", "ivr:main(i,i)", "voicemail:201"],
        "silent": ["route:main", "timecondition:office", "ivr:main(t)", "extension:202"],
        "holiday": ["route:holiday", "timecondition:holidays", "voicemail:201"],
        "night": ["route:night", "timecondition:night", "announcement:sorry", "hangup"],
    }, "\n\n".join("\n".join(t.lines()) for t in predicted.values())
    # each call, as Asterisk executed it, ends where the trace said (waiting for the real path, not a guess)
    deadline = time.monotonic() + 45
    taken: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        lines = _executed(pbx)
        taken = {tag: _path_taken(lines, number) for tag, (number, *_rest) in CALLS.items()}
        if taken == expected:
            break
        time.sleep(0.5)
    for tag in CALLS:
        carrier.wait_for("CallerHangup", lambda e, tag=tag: e.get("Tag") == tag, since=mark, timeout=45)
    lines = _executed(pbx)  # once every call is over: nothing more happened after the predicted end
    taken = {tag: _path_taken(lines, number) for tag, (number, *_rest) in CALLS.items()}
    assert taken == expected
    # the reasons the trace gives for the time conditions are the ones that decided
    assert "holiday Test day" in str(predicted["holiday"].steps[1].why)
    assert str(predicted["night"].steps[1].why).startswith("closed: outside")
