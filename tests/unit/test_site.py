"""Service functions and the checks across objects: refusals are located, nothing half-written, all audited."""

from __future__ import annotations

import json

import pytest

from appliance.errors import SiteError
from appliance.model import audit
from appliance.model.models import AuditEntry
from appliance.site import schemas, service
from appliance.site.checks import Site, check_site

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines

PASSWORD = "Sup3rSecretPassw0rd"


def add(kind: str, user: str = "alice", **data):
    return service.save_object(kind, data, user=user, create=True)


def refused(call, *args, **kwargs) -> SiteError:
    with pytest.raises(SiteError) as raised:
        call(*args, **kwargs)
    return raised.value


def numbers(kind: str) -> list[str]:
    return [o.number for o in service.list_objects(kind)]


@pytest.fixture
def office(install):
    """Two extensions (one with voicemail) and a ring group using both."""
    add("extension", number="100", name="Reception", password=PASSWORD, voicemail=True, voicemail_pin="4711")
    add("extension", number="101", name="Sales", password="AnotherPassw0rd1")
    add("ring_group", number="600", name="Everyone", members=["100", "101"], fallback="voicemail:100")
    return install


# ---- numbers are unique across kinds ----------------------------------------------------------------


def test_ring_group_cannot_take_an_extensions_number(office):
    error = refused(add, "ring_group", number="101", name="Clash", members=["100"])
    assert [str(p) for p in error.problems] == ["ring group 101 number: 101 is already used by extension 101"]
    assert numbers("ring_group") == ["600"]


def test_extension_cannot_take_a_ring_groups_number(office):
    error = refused(add, "extension", number="600", name="Clash")
    # The message is worded from the ring group's side (extensions are checked first), but names both.
    assert len(error.problems) == 1
    assert "600 is already used by" in str(error) and "extension 600" in str(error) and "ring group 600" in str(error)
    assert numbers("extension") == ["100", "101"]


def test_voicemail_box_cannot_take_an_extensions_number(office):
    error = refused(add, "voicemail_box", number="100", name="Clash", pin="4711")
    assert "already used by extension 100" in str(error)


def test_creating_an_existing_key_is_refused(office):
    error = refused(add, "extension", number="100", name="Again")
    assert "extension 100 already exists" in str(error)
    assert service.get_object("extension", "100").name == "Reception"


def test_refused_save_writes_no_audit_row(office):
    count = AuditEntry.select().count()
    refused(add, "ring_group", number="101", name="Clash", members=["100"])
    refused(add, "extension", number="1", name="Too short")
    assert AuditEntry.select().count() == count


def test_validation_error_names_the_field(install):
    error = refused(add, "extension", number="12a", name="Bad")
    assert [p.where for p in error.problems] == ["extension.number"]
    error = refused(add, "trunk", name="t", host="bad host")
    assert [p.where for p in error.problems] == ["trunk.host"]


def test_field_errors_are_plain_words_not_pydantics(install):
    """What a user typed wrong, said so they can fix it: never "Input should be a valid integer, unable to ..."."""
    error = refused(add, "queue", number="700", name="Orders", strategy="fastest", overflow="orders",
                    members=[{"extension": "101", "penalty": "high"}], wrapup_seconds=9000, unknown=1)
    assert sorted(str(p) for p in error.problems) == sorted([
        "queue.members.0.penalty: must be a whole number (not 'high')",
        "queue.strategy: must be one of 'ringall', 'leastrecent', 'fewestcalls', 'rrmemory', 'random' or 'linear' "
        "(not 'fastest')",
        "queue.wrapup_seconds: must be at most 600",
        "queue.overflow: 'orders' is not allowed here: use hangup, extension:NUMBER, voicemail:NUMBER, queue: or "
        "ringgroup: with a number or a name, or timecondition:, announcement:, ivr: or robot: with a name "
        "(such as queue:701 or queue:Orders)",
        "queue.unknown: unknown field",
    ])
    error = refused(add, "trunk", name="Telco", host="sip.example.com", max_channels=-1)
    assert [str(p) for p in error.problems] == [
        "trunk.name: 'Telco' is not allowed here: use lower-case letters, digits, '-' and '_', starting with a "
        "letter (at most 40)",
        "trunk.max_channels: must be at least 0"]
    error = refused(add, "outbound_route", name="out", patterns=[], trunks=["telco"])
    assert [str(p) for p in error.problems] == ["outbound_route.patterns: needs at least 1 entry"]
    assert "Input should" not in str(refused(add, "extension", number="100", name="", voicemail="maybe"))


# ---- deleting what is still used --------------------------------------------------------------------


def test_deleting_an_extension_used_by_a_ring_group_is_refused(office):
    error = refused(service.delete_object, "extension", "101", user="alice")
    assert [str(p) for p in error.problems] == [
        "extension: extension 101 is used by ring group 600 (members): change that first"]
    assert numbers("extension") == ["100", "101"]


def test_deleting_a_voicemail_target_names_each_field_that_uses_it(office):
    error = refused(service.delete_object, "extension", "100", user="alice")
    assert [p.message for p in error.problems] == [
        "extension 100 is used by ring group 600 (fallback, members): change that first"]


def test_turning_voicemail_off_while_it_is_a_destination_is_refused(office):
    current = service.get_object("extension", "100").model_dump()
    error = refused(service.save_object, "extension", {**current, "voicemail": False}, user="alice",
                    original_key="100")
    assert [str(p) for p in error.problems] == ["ring group 600 fallback: voicemail 100 has no voicemail"]


def test_deleting_a_trunk_used_by_a_route_is_refused(install):
    add("trunk", name="telco", host="sip.example.com")
    add("outbound_route", name="out", patterns=[{"match": "_9X."}], trunks=["telco"])
    error = refused(service.delete_object, "trunk", "telco", user="alice")
    assert [p.message for p in error.problems] == [
        "trunk telco is used by outbound route out (trunks): change that first"]


def test_deleting_names_every_user_of_an_extension(office):
    """Whatever points at the extension is named, with the field: never "does not exist" for what does."""
    add("queue", number="700", name="Orders", members=[{"extension": "101"}], overflow="extension:101")
    add("ivr", name="main", greeting="welcome", options=[{"digit": "1", "destination": "extension:101"}],
        timeout_destination="extension:101")
    add("time_condition", name="hours", timezone="UTC", ranges=[{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
        open_destination="extension:101", closed_destination="hangup")
    add("inbound_route", name="main", did="5551000", destination="extension:101")
    add("announcement", name="hello", sound="welcome", destination="extension:101")
    error = refused(service.delete_object, "extension", "101", user="alice")
    assert sorted(p.message for p in error.problems) == sorted([
        "extension 101 is used by ring group 600 (members): change that first",
        "extension 101 is used by queue 700 (overflow, members): change that first",
        "extension 101 is used by IVR menu main (timeout_destination, option 1): change that first",
        "extension 101 is used by time condition hours (open_destination): change that first",
        "extension 101 is used by inbound route main (destination): change that first",
        "extension 101 is used by announcement hello (destination): change that first",
    ])
    assert all("does not exist" not in str(p) for p in error.problems)
    assert numbers("extension") == ["100", "101"]


def test_deleting_an_extension_or_trunk_bound_to_a_gateway_port_is_refused(office):
    """A gateway's FXS port registers as its extension, an FXO port is reached through its trunk."""
    from appliance.gateways import service as gateways
    gateways.adopt("00:11:22:33:44:55", "ht802", "alice", name="lobby")
    gateways.bind_fxs("00:11:22:33:44:55", 1, "101", "alice")
    gateways.adopt("00:11:22:33:44:66", "gxw4104", "alice", address="192.0.2.10")
    gateways.bind_fxo("00:11:22:33:44:66", 2, "alice", trunk="lines")
    error = refused(service.delete_object, "extension", "101", user="alice")
    assert [p.message for p in error.problems] == [
        "extension 101 is used by ring group 600 (members): change that first",
        "extension 101 is used by gateway lobby port 1 (extension): change that first"]
    error = refused(service.delete_object, "trunk", "lines", user="alice")
    assert [p.message for p in error.problems] == [
        "trunk lines is used by gateway 001122334466 port 2 (trunk): change that first"]
    gateways.unbind("00:11:22:33:44:66", 2, "alice")
    service.delete_object("trunk", "lines", user="alice")
    assert service.get_object("trunk", "lines") is None


def test_delete_is_audited_and_then_allowed(office):
    service.delete_object("ring_group", "600", user="bob")
    service.delete_object("extension", "101", user="bob")
    assert numbers("extension") == ["100"]
    row = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert (row.user, row.action, row.kind, row.key, row.after) == ("bob", "delete", "extension", "101", None)
    assert row.before["name"] == "Sales"


def test_deleting_what_does_not_exist(install):
    error = refused(service.delete_object, "extension", "555", user="alice")
    assert "extension 555 does not exist" in str(error)


# ---- loops ------------------------------------------------------------------------------------------


def test_loop_between_two_time_conditions_is_refused(office):
    add("time_condition", name="day", ranges=[{}], open_destination="ringgroup:600", closed_destination="hangup")
    add("time_condition", name="week", ranges=[{"days": "mon-sat"}], open_destination="timecondition:day",
        closed_destination="hangup")
    day = service.get_object("time_condition", "day").model_dump()
    error = refused(service.save_object, "time_condition", {**day, "closed_destination": "timecondition:week"},
                    user="alice", original_key="day")
    assert len(error.problems) == 1
    message = error.problems[0].message
    assert "loop" in message and "time condition day" in message and "time condition week" in message
    assert service.get_object("time_condition", "day").closed_destination == "hangup"


def test_check_site_reports_a_loop_once():
    def tc(name, dest):
        return schemas.TimeCondition(name=name, ranges=[{}], open_destination=dest, closed_destination=dest)

    site = Site()
    site.objects["time_condition"] = [tc("a", "timecondition:b"), tc("b", "timecondition:a")]
    problems = check_site(site)
    assert len(problems) == 1
    assert problems[0].message in ("destinations form a loop: time condition a → time condition b → time condition a",
                                   "destinations form a loop: time condition b → time condition a → time condition b")


def _chain(length: int, last_closed: str = "hangup") -> Site:
    """Time conditions t000 -> t001 -> ..., both destinations of each pointing at the next."""
    site = Site()
    site.objects["time_condition"] = [
        schemas.TimeCondition(name=f"t{i:03d}", ranges=[{}],
                              open_destination=f"timecondition:t{i + 1:03d}" if i < length - 1 else "hangup",
                              closed_destination=f"timecondition:t{i + 1:03d}" if i < length - 1 else last_closed)
        for i in range(length)]
    return site


def test_long_chain_of_time_conditions_is_checked_quickly():
    """Each step doubles the paths through the chain: walking every path would take longer than the universe."""
    import time

    started = time.monotonic()
    assert check_site(_chain(60)) == []
    problems = check_site(_chain(60, last_closed="timecondition:t000"))
    assert time.monotonic() - started < 5
    assert len(problems) == 1 and "loop" in problems[0].message
    assert problems[0].message.count("→") == 60


def test_two_separate_loops_are_both_reported():
    def tc(name, dest):
        return schemas.TimeCondition(name=name, ranges=[{}], open_destination=dest, closed_destination="hangup")

    site = Site()
    site.objects["time_condition"] = [tc("a", "timecondition:b"), tc("b", "timecondition:a"),
                                      tc("c", "timecondition:d"), tc("d", "timecondition:c"),
                                      tc("e", "timecondition:a")]
    assert sorted(p.where for p in check_site(site)) == ["time condition a", "time condition c"]


def test_loop_through_an_announcement(install):
    add("announcement", name="closed", sound="custom/closed")
    add("time_condition", name="hours", ranges=[{}], open_destination="hangup",
        closed_destination="announcement:closed")
    current = service.get_object("announcement", "closed").model_dump()
    error = refused(service.save_object, "announcement", {**current, "destination": "timecondition:hours"},
                    user="alice", original_key="closed")
    assert "loop" in str(error)


def test_a_chain_is_not_a_loop(office):
    def tc(name, open_to, closed_to):
        add("time_condition", name=name, ranges=[{}], open_destination=open_to, closed_destination=closed_to)

    tc("a", "ringgroup:600", "hangup")
    tc("b", "timecondition:a", "timecondition:a")
    tc("c", "timecondition:b", "timecondition:a")
    assert check_site(service.snapshot()) == []


# ---- audit ------------------------------------------------------------------------------------------


def test_audit_rows_mask_passwords(install):
    add("extension", number="100", name="Reception", password=PASSWORD, voicemail_pin="4711")
    add("trunk", name="telco", host="sip.example.com", registration=True, username="acct", password="trunkpass9")
    add("voicemail_box", number="700", name="General", pin="7093")
    rows = {(r.kind, r.key): r for r in AuditEntry.select()}
    ext = rows[("extension", "100")]
    assert (ext.user, ext.action, ext.before) == ("alice", "create", None)
    assert ext.after["password"] == audit.MASK and ext.after["voicemail_pin"] == audit.MASK
    assert ext.after["name"] == "Reception"
    assert rows[("trunk", "telco")].after["password"] == audit.MASK
    assert rows[("trunk", "telco")].after["username"] == "acct"
    assert rows[("voicemail_box", "700")].after["pin"] == audit.MASK


def test_audit_shows_a_changed_password_without_revealing_it(install):
    add("extension", number="100", name="Reception", password=PASSWORD, voicemail_pin="4711")
    current = service.get_object("extension", "100").model_dump()
    service.save_object("extension", {**current, "password": "BrandNewPassw0rd"}, user="bob", original_key="100")
    service.save_object("extension", {**current, "password": "BrandNewPassw0rd", "name": "Front"}, user="bob",
                        original_key="100")
    changed, renamed = AuditEntry.select().where(AuditEntry.action == "update").order_by(AuditEntry.id)
    assert changed.before["password"] == audit.MASK
    assert changed.after["password"] == audit.MASK + " (changed)"
    assert changed.after["voicemail_pin"] == audit.MASK  # not changed
    assert renamed.after["password"] == audit.MASK and renamed.after["name"] == "Front"
    log = json.dumps([[r.before, r.after] for r in AuditEntry.select()])
    assert PASSWORD not in log and "BrandNewPassw0rd" not in log and "4711" not in log


def test_settings_changes_are_audited(install):
    service.save_settings({"sip_port": 5070}, user="carol")
    row = AuditEntry.get(AuditEntry.kind == "settings")
    assert (row.user, row.before["sip_port"], row.after["sip_port"]) == ("carol", 5060, 5070)
    count = AuditEntry.select().count()
    service.save_settings({"sip_port": 5070}, user="carol")  # no change, no row
    assert AuditEntry.select().count() == count


def test_bad_settings_are_refused_naming_the_field(install):
    error = refused(service.save_settings, {"rtp_start": 30000}, user="carol")  # above the stored rtp_end
    assert [p.where for p in error.problems] == ["settings.rtp_end"]
    assert service.load_settings().rtp_start == 10000


# ---- renaming ---------------------------------------------------------------------------------------


def test_rename_via_original_key(install):
    add("extension", number="100", name="Reception", password=PASSWORD)
    current = service.get_object("extension", "100").model_dump()
    service.save_object("extension", {**current, "number": "110"}, user="bob", original_key="100")
    assert numbers("extension") == ["110"]
    assert service.get_object("extension", "110").password == PASSWORD
    row = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert (row.action, row.key, row.before["number"], row.after["number"]) == ("update", "110", "100", "110")


def test_rename_onto_an_existing_key_is_refused(office):
    current = service.get_object("extension", "101").model_dump()
    error = refused(service.save_object, "extension", {**current, "number": "100"}, user="bob", original_key="101")
    assert "extension 100 already exists" in str(error)
    assert numbers("extension") == ["100", "101"]


def test_rename_of_something_missing_is_refused(install):
    error = refused(service.save_object, "extension", {"number": "120", "name": "Ghost"}, user="bob",
                    original_key="119")
    assert "extension 119 does not exist" in str(error)
    assert numbers("extension") == []


def test_rename_of_an_extension_in_use_is_refused(office):
    current = service.get_object("extension", "101").model_dump()
    error = refused(service.save_object, "extension", {**current, "number": "102"}, user="bob", original_key="101")
    assert "ring group 600 members" in str(error)
    assert numbers("extension") == ["100", "101"]


def test_rename_of_a_named_object(install):
    add("trunk", name="telco", host="sip.example.com")
    current = service.get_object("trunk", "telco").model_dump()
    service.save_object("trunk", {**current, "name": "carrier"}, user="bob", original_key="telco")
    assert [t.name for t in service.list_objects("trunk")] == ["carrier"]


# ---- schema rules that need more than one field -----------------------------------------------------


def test_registering_trunk_needs_a_username_even_when_it_is_left_out(install):
    error = refused(add, "trunk", name="telco", host="sip.example.com", registration=True)
    assert [p.where for p in error.problems] == ["trunk.username"]
    assert "username" in error.problems[0].message


def test_time_range_must_end_after_it_starts_even_with_the_default_end(install):
    error = refused(add, "time_condition", name="late", ranges=[{"start": "18:00"}],
                    open_destination="hangup", closed_destination="hangup")
    assert [p.where for p in error.problems] == ["time_condition.ranges.0.end"]


def test_rtp_range_must_be_ordered_even_with_the_default_end():
    with pytest.raises(ValueError, match="rtp_start"):
        schemas.Settings(rtp_start=30000)


def test_inbound_routes_are_listed_most_specific_first():
    """The order Asterisk 22 keeps these routes' extensions in (``dialplan show``, checked once by hand):
    exact DIDs by their digits, a caller-ID filter before none on the same DID, patterns position by
    position (a digit before a class before X, '.' last), then the routes for any number (their ``_X.``
    comes last in Asterisk too); the name only breaks ties."""
    def route(name, did="", cid=""):
        return schemas.InboundRoute(name=name, did=did, cid=cid, destination="hangup")

    site = Site()
    site.objects["inbound_route"] = [
        route("a-any"), route("b-pattern", "_44X."), route("c-class", "_4[45]XX"), route("d-exact", "441632960000"),
        route("e-narrow", "_441XX"), route("f-filtered", "441632960000", "_447700900XXX"), route("g-other", "441"),
        route("h-any-filtered", "", "_0X."), route("i-longer", "_441XXX"),
    ]
    assert [r.name for r in site.inbound_routes_by_specificity()] == [
        "g-other", "f-filtered", "d-exact", "i-longer", "e-narrow", "b-pattern", "c-class", "h-any-filtered", "a-any"]


# ---- a queue or ring group named by its name in a destination ---------------------------------------------


@pytest.fixture
def two_queues(office):
    add("queue", number="701", name="Orders", members=[{"extension": "100"}])
    add("queue", number="702", name="After-sales", members=[{"extension": "101"}])
    return office


def test_a_destination_may_name_a_queue_or_ring_group_and_stores_its_number(two_queues):
    """``queue:orders`` (any case) is the queue named Orders: stored as ``queue:701``, so renaming the queue
    later changes nothing where it is used."""
    add("ivr", name="main", greeting="beep", timeout_destination="ringgroup:everyone",
        options=[{"digit": "1", "destination": "queue:orders"}, {"digit": "2", "destination": "queue:After-Sales"}])
    ivr = service.get_object("ivr", "main")
    assert [o.destination for o in ivr.options] == ["queue:701", "queue:702"]
    assert ivr.timeout_destination == "ringgroup:600"
    add("inbound_route", name="orders-line", did="5551000", destination="queue:Orders")
    assert service.get_object("inbound_route", "orders-line").destination == "queue:701"
    service.save_object("queue", {**service.get_object("queue", "701").model_dump(), "name": "Sales orders"},
                        user="alice", original_key="701")
    assert service.get_object("inbound_route", "orders-line").destination == "queue:701"
    assert service.check() == []


def test_an_unknown_or_shared_name_says_which_queues_there_are_and_the_forms(two_queues):
    error = refused(add, "ivr", name="main", greeting="beep", options=[{"digit": "1", "destination": "queue:billing"}])
    assert [str(p) for p in error.problems] == [
        "ivr.options.0.destination: no queue is named 'billing' (the queues are 701 Orders, 702 After-sales): "
        "use queue:NUMBER or queue:NAME (such as queue:701)"]
    add("queue", number="703", name="orders", members=[{"extension": "100"}])
    error = refused(add, "inbound_route", name="line", did="5551000", destination="queue:Orders")
    assert [str(p) for p in error.problems] == [
        "inbound_route.destination: 2 queues are named 'Orders' (701, 703): name one by its number (queue:701)"]
    assert service.get_object("ivr", "main") is None and service.get_object("inbound_route", "line") is None


def test_a_queue_may_overflow_to_a_queue_it_names_in_the_same_save(two_queues):
    """The object being saved is among the names (a renamed queue is found by its new name, not its old)."""
    add("queue", number="703", name="Night", overflow="queue:orders")
    assert service.get_object("queue", "703").overflow == "queue:701"
    error = refused(service.save_object, "queue", {"number": "702", "name": "Returns", "overflow": "queue:after-sales"},
                    user="alice", original_key="702")
    assert "no queue is named 'after-sales'" in str(error)


# ---- IVR retries, time ranges, trunk match: what each takes ----------------------------------------------


def test_an_ivr_counts_wrong_keys_and_silences_apart_and_old_retries_sets_both():
    ivr = schemas.Ivr(name="main", greeting="beep", invalid_retries=3, timeout_retries=0)
    assert (ivr.invalid_retries, ivr.timeout_retries) == (3, 0)
    old = schemas.Ivr.model_validate({"name": "main", "greeting": "beep", "retries": 1})
    assert (old.invalid_retries, old.timeout_retries) == (1, 1) and "retries" not in old.model_dump()
    assert schemas.Ivr.model_validate({"name": "m", "greeting": "beep", "retries": 1, "timeout_retries": 4}
                                      ).timeout_retries == 4


def test_a_range_may_end_at_midnight_and_asterisk_gets_the_last_open_minute():
    """``end`` is the closing time; Asterisk's ranges include their last minute (GotoIfTime(09:00-17:59))."""
    assert schemas.TimeRange(days="fri", start="18:00", end="24:00").asterisk_times() == "18:00-23:59"
    assert schemas.TimeRange(start="09:00", end="18:00").asterisk_times() == "09:00-17:59"
    assert schemas.TimeRange(start="00:00", end="00:01").asterisk_times() == "00:00-00:00"
    for start, end in (("24:00", "24:00"), ("09:00", "24:01"), ("09:00", "25:00")):
        with pytest.raises(ValueError):
            schemas.TimeRange(start=start, end=end)
    error = refused(service.validate, "time_condition", {
        "name": "h", "ranges": [{"start": "09:00", "end": "24:30"}], "open_destination": "hangup",
        "closed_destination": "hangup"})
    assert [str(p) for p in error.problems] == [
        "time_condition.ranges.0.end: '24:30' is not allowed here: use a time HH:MM from 00:01 to 24:00 "
        "(24:00: until midnight)"]


@pytest.mark.parametrize("entry", ["203.0.113.20", "203.0.113.16/28", "203.0.113.0/255.255.255.0",
                                   "203.0.113.20:5062", "203.0.113.16:5062/28", "2001:db8::1", "2001:db8::/48",
                                   "[2001:db8::1]:5060", "sip.carrier.example.net", "sip.carrier.example.net:5060"])
def test_a_trunk_matches_what_asterisk_identify_takes(entry):
    assert schemas.Trunk(name="t", host="h", match=[entry]).match == [entry]


@pytest.mark.parametrize("entry", ["300.1.1.1", "203.0.113.20:99999", "carrier/24", "1.2.3.4-5", "[2001:db8::1",
                                   "203.0.113.20:", "a_b", "203.0.113.0/33"])
def test_a_trunk_match_asterisk_would_refuse_says_the_forms_allowed(entry):
    error = refused(service.validate, "trunk", {"name": "t", "host": "h", "match": ["203.0.113.9", entry]})
    (problem,) = error.problems
    assert problem.where == "trunk.match.1"
    assert repr(entry) in problem.message and "an IP address (203.0.113.20), a network (203.0.113.16/28" in \
        problem.message and "(203.0.113.20:5062" in problem.message and "host name" in problem.message
