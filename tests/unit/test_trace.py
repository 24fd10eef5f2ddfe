"""The call-flow trace (appliance.provisioning.trace): where a call goes, why, and which calls reach a queue.

Pure: sites are built in memory as schema objects, the time is given.  That the trace agrees with what
Asterisk really does is shown by tests/lab/test_trace.py with real calls; these pin each rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from appliance.cli.linebox import main
from appliance.errors import SiteError
from appliance.provisioning import trace
from appliance.site import schemas, service
from appliance.site.checks import Site
from appliance.site.kinds import KINDS

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)  # a Monday


def site_of(**kinds) -> Site:
    """A site from plain dicts per kind (``inbound_route=[...]``), validated by the schemas."""
    site = Site(settings=schemas.Settings(timezone="Asia/Shanghai"))
    for kind, items in kinds.items():
        site.objects[kind] = [KINDS[kind].schema.model_validate(item) for item in items]
    return site


def office(**changes) -> dict:
    return {"name": "office", "timezone": "Asia/Shanghai", "ranges": [{"days": "mon-fri", "start": "09:00",
                                                                       "end": "18:00"}],
            "open_destination": "ivr:main", "closed_destination": "voicemail:800", **changes}


def base(**more) -> Site:
    """A small site: DID 5550100 → office hours → IVR (1: queue 701, 2: ring group 600) → ..."""
    kinds = {
        "extension": [{"number": "201", "name": "Ann", "voicemail": True}, {"number": "202", "name": "Bo"}],
        "voicemail_box": [{"number": "800", "name": "Night"}],
        "ring_group": [{"number": "600", "name": "Desk", "members": ["201", "202"], "fallback": "voicemail:800"}],
        "queue": [{"number": "701", "name": "Orders", "max_wait_seconds": 60, "overflow": "ringgroup:600"}],
        "ivr": [{"name": "main", "greeting": "beep", "options": [{"digit": "1", "destination": "queue:701"},
                                                                  {"digit": "2", "destination": "ringgroup:600"}],
                 "invalid_retries": 1, "timeout_retries": 1, "invalid_destination": "extension:201",
                 "timeout_destination": "voicemail:800"}],
        "time_condition": [office()],
        "inbound_route": [{"name": "main", "did": "5550100", "destination": "timecondition:office"}],
    }
    kinds.update(more)
    return site_of(**kinds)


# ---- Asterisk's matching and order ---------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "number", "matches"), [
    ("5550100", "5550100", True),
    ("555-0100", "5550100", True),  # dashes are decoration
    ("5550100", "55501000", False),
    ("_X.", "12", True),
    ("_X.", "1", False),  # "." needs at least one more character
    ("_X!", "1", True),
    ("_+X.", "+8613800000000", True),
    ("_X.", "+8613800000000", False),
    ("_NXX", "211", True),
    ("_NXX", "111", False),
    ("_ZX", "10", True),
    ("_ZX", "01", False),
    ("_[13-5]X", "42", True),
    ("_[13-5]X", "22", False),
    ("_138XXXXXXXX", "13812345678", True),
    ("_138XXXXXXXX", "1381234567", False),
])
def test_patterns_match_as_asterisk_matches_them(pattern, number, matches) -> None:
    assert trace.extension_matches(pattern, number) is matches


def test_asterisk_order_names_first_then_the_more_specific_pattern() -> None:
    names = ["_X.", "_+X.", "_55501XX", "5550100", "_5550[1-2]XX", "_555XXXX", "_5.", "s"]
    ordered = sorted(names, key=trace.extension_order)
    assert ordered[:2] == ["5550100", "s"]  # names first, by their characters
    assert ordered.index("_55501XX") < ordered.index("_5550[1-2]XX")  # "1" (one digit) before "[1-2]" (two)
    assert ordered.index("_555XXXX") < ordered.index("_5.") < ordered.index("_X.")
    assert ordered.index("_+X.") < ordered.index("_X.")  # "+" is one character, X ten


# ---- inbound routes by number and caller ID -----------------------------------------------------------

def routes(*items) -> Site:
    return base(inbound_route=[{"destination": "voicemail:800", **item} for item in items])


def test_a_caller_id_route_takes_its_callers_and_the_plain_route_the_rest() -> None:
    site = routes({"name": "all", "did": "_55501XX"}, {"name": "vip", "did": "_55501XX", "cid": "_1390000XXXX"})
    assert trace.trace(site, "5550101", "13900001234", MONDAY_10).steps[0].key == "vip"
    other = trace.trace(site, "5550101", "13800001234", MONDAY_10)
    assert other.steps[0].key == "all"
    skipped = [b for b in other.steps[0].branches if not b.taken]
    assert [str(b.label) for b in skipped] == ["route vip: only callers matching _1390000XXXX"]
    assert trace.trace(site, "5550101", "", MONDAY_10).steps[0].key == "all"  # no caller ID: no CID match


def test_an_exact_number_wins_over_a_pattern_even_one_with_the_callers_id() -> None:
    site = routes({"name": "exact", "did": "5550100"}, {"name": "vip", "did": "_55501XX", "cid": "13900001234"})
    step = trace.trace(site, "5550100", "13900001234", MONDAY_10).steps[0]
    assert step.key == "exact"
    assert [str(b.label) for b in step.branches if not b.taken] == ["route vip: less specific than exact"]


def test_a_route_only_for_some_callers_refuses_the_others() -> None:
    site = routes({"name": "vip", "did": "5550100", "cid": "+15550009999"})
    refused = trace.trace(site, "5550100", "+15550001111", MONDAY_10)
    assert refused.nodes == ["route:"] and str(refused.outcome) == "refused: no inbound route"
    assert "404" in str(refused.steps[0].why)


def test_no_number_and_any_number_go_to_the_route_without_a_did() -> None:
    site = routes({"name": "any", "did": ""}, {"name": "main", "did": "5550100"})
    assert trace.trace(site, "", "1", MONDAY_10).steps[0].key == "any"  # "s"
    assert trace.trace(site, "+8621000000", "1", MONDAY_10).steps[0].key == "any"  # "_+X."
    assert trace.trace(site, "5550100", "1", MONDAY_10).steps[0].key == "main"


# ---- time conditions, holidays and zones --------------------------------------------------------------

@pytest.mark.parametrize(("local", "is_open"), [
    ("2026-12-07 09:00", True),
    ("2026-12-07 08:59", False),
    ("2026-12-07 17:59", True),
    ("2026-12-07 18:00", False),  # the end is the first minute closed
    ("2026-12-12 10:00", False),  # Saturday
])
def test_office_hours_open_from_start_to_the_minute_before_end(local, is_open) -> None:
    at = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    t = trace.trace(base(), "5550100", "1", at)
    assert t.steps[1].taken.to == ("ivr:main" if is_open else "voicemail:800")
    assert ("open" if is_open else "closed") in str(t.steps[1].why) and "Asia/Shanghai" in str(t.steps[1].why)


def test_a_day_range_may_wrap_round_the_week() -> None:
    site = base(time_condition=[office(ranges=[{"days": "sat-mon", "start": "00:00", "end": "24:00"}])])
    for day, is_open in ((5, True), (6, True), (7, True), (8, False), (11, False), (12, True)):
        at = datetime(2026, 12, day, 12, 0, tzinfo=SHANGHAI)
        assert trace.trace(site, "5550100", "1", at).steps[1].taken.label == ("open" if is_open else "closed"), day


def test_a_holiday_is_the_day_in_the_conditions_zone_not_the_sites_or_utcs() -> None:
    site = base(time_condition=[office(ranges=[{"days": "mon-sun", "start": "00:00", "end": "24:00"}],
                                       holidays=[{"date": "2026-12-25", "name": "Christmas"}])])
    site.settings = schemas.Settings(timezone="Europe/London")  # the site's clock is London's
    # 16:30 UTC on the 24th is 00:30 on the 25th in Shanghai: the holiday has begun there
    started = trace.trace(site, "5550100", "1", datetime(2026, 12, 24, 16, 30, tzinfo=UTC))
    assert started.steps[1].taken.label == "closed"
    assert "holiday Christmas (2026-12-25; it is Fri 2026-12-25 00:30 in Asia/Shanghai)" in str(started.steps[1].why)
    before = trace.trace(site, "5550100", "1", datetime(2026, 12, 24, 15, 59, tzinfo=UTC))
    assert before.steps[1].taken.label == "open"
    # and it lasts until midnight in Shanghai, 16:00 UTC on the 25th
    assert trace.trace(site, "5550100", "1", datetime(2026, 12, 25, 15, 59, tzinfo=UTC)).steps[1].taken.label \
        == "closed"
    assert trace.trace(site, "5550100", "1", datetime(2026, 12, 25, 16, 0, tzinfo=UTC)).steps[1].taken.label \
        == "open"


def test_the_time_typed_is_in_the_sites_zone() -> None:
    london = ZoneInfo("Europe/London")
    at = trace.parse_at("2026-12-07 02:30", london)  # 10:30 in Shanghai: open
    assert trace.trace(base(), "5550100", "1", at).steps[1].taken.label == "open"
    with pytest.raises(SiteError, match="^at: 'monday' is not a time"):
        trace.parse_at("monday", london)


# ---- IVR keys -----------------------------------------------------------------------------------------

def test_each_key_goes_to_its_option_and_nothing_further_without_answer() -> None:
    assert trace.trace(base(), "5550100", "1", MONDAY_10, ["1"]).nodes == [
        "route:main", "timecondition:office", "ivr:main", "queue:701"]
    assert trace.trace(base(), "5550100", "1", MONDAY_10, ["2"]).nodes[-1] == "ringgroup:600"


def test_wrong_keys_and_silences_are_counted_apart_each_with_its_replays() -> None:
    # one replay each: a wrong key and a silence, then a second wrong key gives up on wrong keys
    t = trace.trace(base(), "5550100", "1", MONDAY_10, ["9", "t", "9"])
    assert t.nodes[-1] == "extension:201"
    assert "a wrong key 2 times, more than the 1 replays" in str(t.steps[2].why)
    t = trace.trace(base(), "5550100", "1", MONDAY_10, ["t", "9", "t"])
    assert t.nodes[-1] == "voicemail:800" and "no key 2 times" in str(t.steps[2].why)
    # a wrong key then the right one
    assert trace.trace(base(), "5550100", "1", MONDAY_10, ["7", "1"]).nodes[-1] == "queue:701"


def test_without_keys_the_trace_stops_at_the_menu_showing_every_branch() -> None:
    t = trace.trace(base(), "5550100", "1", MONDAY_10)
    menu = t.steps[-1]
    assert menu.node == "ivr:main" and menu.taken is None
    assert [(str(b.label), b.to) for b in menu.branches] == [
        ("key 1", "queue:701"), ("key 2", "ringgroup:600"), ("a wrong key, 2 times", "extension:201"),
        ("no key, 2 times", "voicemail:800")]
    assert str(t.outcome) == "waiting for a key at IVR menu main"


def test_a_language_key_plays_the_menu_again_and_keys_left_over_are_reported() -> None:
    ivr = {"name": "main", "greeting": "beep", "options": [{"digit": "9", "language": "zh"},
                                                           {"digit": "1", "destination": "queue:701"}]}
    t = trace.trace(base(ivr=[ivr]), "5550100", "1", MONDAY_10, ["9", "1", "5"])
    assert t.nodes[-1] == "queue:701" and t.unused_digits == ["5"]


def test_direct_dial_rings_the_extension_typed() -> None:
    ivr = {"name": "main", "greeting": "beep", "direct_dial": True,
           "options": [{"digit": "2", "destination": "queue:701"}]}
    site = base(ivr=[ivr])
    assert trace.trace(site, "5550100", "1", MONDAY_10, ["202"]).nodes[-1] == "extension:202"
    assert trace.trace(site, "5550100", "1", MONDAY_10, ["2"]).nodes[-1] == "queue:701"
    # a number in the range that is no extension is a wrong key
    wrong = trace.trace(site, "5550100", "1", MONDAY_10, ["299", "299", "299"])
    assert wrong.nodes[-1] == "hangup" and "a wrong key 3 times" in str(wrong.steps[2].why)


def test_bad_keys_are_refused_naming_the_field() -> None:
    with pytest.raises(SiteError, match="^digits: 'x' is not a key"):
        trace.parse_digits("1,x")
    assert trace.parse_digits(" 1, t ,#") == ["1", "t", "#"]


# ---- no answer: queues, ring groups, extensions -------------------------------------------------------

def test_nobody_answering_follows_the_overflow_chain_to_voicemail() -> None:
    site = base(queue=[{"number": "701", "name": "Orders", "max_wait_seconds": 60, "overflow": "queue:702"},
                       {"number": "702", "name": "Backup", "max_wait_seconds": 30, "overflow": "ringgroup:600"}])
    t = trace.trace(site, "5550100", "1", MONDAY_10, ["1"], answered=False)
    assert t.nodes[2:] == ["ivr:main", "queue:701", "queue:702", "ringgroup:600", "voicemail:800"]
    assert "nobody answers within 60 s" in str(t.steps[3].why)
    assert str(t.outcome) == "a message in voicemail box 800" and not t.loop
    answered = trace.trace(site, "5550100", "1", MONDAY_10, ["1"])
    assert answered.nodes[-1] == "queue:701" and str(answered.outcome) == "answered by an agent of queue 701"
    assert [str(b.label) for b in answered.steps[-1].branches if not b.taken] == ["no agent answers within 60 s"]


def test_a_queue_without_a_maximum_wait_holds_the_caller() -> None:
    site = base(queue=[{"number": "701", "name": "Orders", "max_wait_seconds": 0, "overflow": "ringgroup:600",
                        "exit_voicemail": "800", "max_callers": 5}])
    t = trace.trace(site, "5550100", "1", MONDAY_10, ["1"], answered=False)
    assert t.nodes[-1] == "queue:701" and str(t.outcome) == "waiting in queue 701"
    labels = [str(b.label) for b in t.steps[-1].branches]
    assert labels == ["an agent answers", "the queue is full (5 waiting)", "the caller presses 0"]


def test_an_extension_unanswered_goes_to_its_voicemail_or_ends() -> None:
    site = base(inbound_route=[{"name": "a", "did": "1", "destination": "extension:201"},
                               {"name": "b", "did": "2", "destination": "extension:202"}])
    assert trace.trace(site, "1", "", MONDAY_10, answered=False).nodes == ["route:a", "extension:201",
                                                                           "voicemail:201"]
    b = trace.trace(site, "2", "", MONDAY_10, answered=False)
    assert b.nodes == ["route:b", "extension:202"] and str(b.outcome) == "not answered: the call is hung up"


def test_a_loop_is_reported_not_followed_for_ever() -> None:
    site = base(ring_group=[{"number": "600", "name": "Desk", "members": ["201"], "fallback": "queue:701"}],
                queue=[{"number": "701", "name": "Orders", "max_wait_seconds": 10, "overflow": "ringgroup:600"}],
                inbound_route=[{"name": "main", "did": "5550100", "destination": "queue:701"}])
    t = trace.trace(site, "5550100", "1", MONDAY_10, answered=False)
    assert t.loop and t.nodes == ["route:main", "queue:701", "ringgroup:600", "queue:701"]
    assert str(t.outcome).startswith("loop: the call comes back to queue 701")


def test_a_menu_that_leads_back_to_itself_by_keys_is_no_loop() -> None:
    ivr = {"name": "main", "greeting": "beep", "options": [{"digit": "1", "destination": "ivr:main"},
                                                           {"digit": "2", "destination": "queue:701"}]}
    t = trace.trace(base(ivr=[ivr]), "5550100", "1", MONDAY_10, ["1", "1", "2"])
    assert not t.loop and t.nodes[2:] == ["ivr:main", "ivr:main", "ivr:main", "queue:701"]


def test_announcements_play_then_go_on() -> None:
    site = base(announcement=[{"name": "closed", "sound": "vm-goodbye", "destination": "hangup"}],
                inbound_route=[{"name": "main", "did": "5550100", "destination": "announcement:closed"}])
    t = trace.trace(site, "5550100", "1", MONDAY_10)
    assert t.nodes == ["route:main", "announcement:closed", "hangup"] and str(t.outcome) == "the call is hung up"


def test_a_call_on_a_dahdi_trunk_goes_to_its_destination_or_through_the_inbound_routes() -> None:
    site = base(dahdi_trunk=[{"name": "fxo", "group": 1, "destination": "ringgroup:600"},
                             {"name": "pri", "group": 2}])
    assert trace.trace(site, "", "021555", MONDAY_10, trunk="fxo").nodes == ["dahdi:fxo", "ringgroup:600"]
    assert trace.trace(site, "5550100", "021555", MONDAY_10, trunk="pri").nodes[:3] == [
        "dahdi:pri", "route:main", "timecondition:office"]
    with pytest.raises(SiteError, match="^trunk: no trunk named 'nope'"):
        trace.trace(site, "5550100", "", MONDAY_10, trunk="nope")


def test_numbers_are_checked() -> None:
    with pytest.raises(SiteError, match="^caller: 'x;y' is not a phone number"):
        trace.trace(base(), "5550100", "x;y", MONDAY_10)


# ---- the reverse question -----------------------------------------------------------------------------

def test_which_calls_reach_a_queue() -> None:
    site = base(inbound_route=[{"name": "main", "did": "5550100", "destination": "timecondition:office"},
                               {"name": "vip", "did": "5550100", "cid": "_139XXXXXXXX", "destination": "queue:701"}])
    ways = trace.reaches(site, "queue:701")
    texts = [w.text() for w in ways]
    assert texts[0] == "office phones dialling 701"
    assert texts[1] == "calls to 5550100 from _139XXXXXXXX (inbound route vip)"
    assert texts[2] == ("calls to 5550100 from any caller (inbound route main); time condition office: open "
                        "(mon-fri 09:00–18:00, Asia/Shanghai); IVR menu main: key 1")
    assert len(ways) == 3
    # the ring group is reached by key 2, and by the queue's overflow after key 1
    group = [w.text() for w in trace.reaches(site, "ringgroup:600")]
    assert any(t.endswith("IVR menu main: key 1; queue 701: not answered within 60 s, or full") for t in group)
    assert trace.reaches(site, "ivr:nowhere") == []
    with pytest.raises(SiteError, match="^reaches: 'queue;1' is not a destination"):
        trace.reaches(site, "queue;1")


# ---- over the stored site, from the command line ------------------------------------------------------

def test_the_cli_traces_the_stored_site(install) -> None:
    service.save_settings({"timezone": "Asia/Shanghai"}, user="test")
    for kind, items in (("extension", [{"number": "201", "name": "Ann", "voicemail": True}]),
                        ("time_condition", [office(open_destination="extension:201",
                                                   closed_destination="voicemail:201")]),
                        ("inbound_route", [{"name": "main", "did": "5550100",
                                            "destination": "timecondition:office"}])):
        for item in items:
            service.save_object(kind, item, user="test", create=True)
    home = ["--home", str(install.home)]
    out = CliRunner().invoke(main, [*home, "trace", "--did", "5550100", "--caller", "+8613800000000",
                                    "--at", "2026-12-07 20:00"])
    assert out.exit_code == 0, out.output
    assert "closed: outside mon-fri 09:00–18:00 (it is Mon 2026-12-07 20:00 in Asia/Shanghai)" in out.output
    assert "⇒ a message in voicemail box 201" in out.output
    day = CliRunner().invoke(main, [*home, "trace", "--did", "5550100", "--at", "2026-12-07 10:00", "--no-answer"])
    assert "⇒ a message in voicemail box 201" in day.output and "extension 201 (Ann) rings" in day.output
    reach = CliRunner().invoke(main, [*home, "trace", "--reaches", "voicemail:201"])
    assert reach.exit_code == 0 and "time condition office: closed" in reach.output
    bad = CliRunner().invoke(main, [*home, "trace", "--did", "5550100", "--at", "tomorrow"])
    assert bad.exit_code == 1 and "at: 'tomorrow' is not a time" in bad.output and "Traceback" not in bad.output


def test_the_reverse_question_on_a_large_tangled_site_stays_small() -> None:
    # a direct-dial menu before 3,000 extensions, and twelve menus whose keys lead to one another
    extensions = [{"number": str(2000 + i), "name": f"User {i}", "voicemail": True} for i in range(3000)]
    menus = [{"name": f"m{i}", "greeting": "beep", "direct_dial": True,
              "options": [{"digit": str(d), "destination": f"ivr:m{d}"} for d in range(9) if d != i]
              + [{"digit": "9", "destination": "queue:701"}]} for i in range(9)]
    site = base(extension=[*extensions, {"number": "201", "name": "Ann", "voicemail": True}],
                ivr=menus, inbound_route=[{"name": "main", "did": "5550100", "destination": "ivr:m0"}])
    ways = trace.reaches(site, "queue:701")
    assert len(ways) == trace.MAX_WAYS  # capped, not walked for ever
    assert ways[1].text() == "calls to 5550100 from any caller (inbound route main); IVR menu m0: key 9"
    assert len(trace.reaches(site, "voicemail:2500")) == trace.MAX_WAYS
