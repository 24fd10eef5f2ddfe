"""Ports, spans and DAHDI trunks as site objects: validation a user sees, the dialplan, export/import, migration."""

from __future__ import annotations

import pytest

from appliance import config_file
from appliance.errors import SiteError
from appliance.gateways import service as gateways
from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.provisioning import projection, render
from appliance.site import service
from appliance.site.checks import check_site
from tests.dahdi.sites import site
from tests.old_database import database_before

U = "test"


def problems_of(kind: str, data: dict) -> list[str]:
    with pytest.raises(SiteError) as raised:
        service.validate(kind, data)
    return [str(p) for p in raised.value.problems]


@pytest.mark.parametrize(("data", "expected"), [
    ({"span": 1, "card": "c1", "trunk": "t", "line_type": "t1", "crc4": True},
     "span.crc4: CRC4 exists on E1 only: turn it off for a T1 span"),
    ({"span": 1, "card": "c1", "trunk": "t", "coding": "b8zs"},
     "span.coding: b8zs is not a line coding of E1 (use hdb3 or ami)"),
    ({"span": 1, "card": "c1", "trunk": "t", "line_type": "t1", "framing": "ccs"},
     "span.framing: ccs is not a framing of T1 (use esf or d4)"),
    ({"span": 1, "card": "c1", "trunk": "t", "framing": "cas"},
     "span.framing: cas is channel-associated signalling: a PRI span on E1 needs ccs"),
    ({"span": 1, "trunk": "t"}, "span.card: a card span needs its card (see 'linebox hardware show')"),
    ({"span": 1, "source": "loc", "trunk": "t"}, "span.loc: a loc span needs its key:id"),
    ({"span": 1, "source": "loc", "loc": "1:0", "card": "c1", "trunk": "t"},
     "span.card: a loc span is not on a card: leave card empty"),
    ({"span": 1, "card": "c1", "trunk": "t", "switch_type": "isdn"}, "span.switch_type: must be one of "),
])
def test_span_field_errors_name_the_field(install, data, expected):
    assert any(p.startswith(expected) for p in problems_of("span", data)), problems_of("span", data)


@pytest.mark.parametrize(("data", "expected"), [
    ({"channel": 1, "kind": "fxs"}, "analog_port.extension: an FXS port needs the extension its phone is"),
    ({"channel": 1, "kind": "fxo"}, "analog_port.trunk: an FXO port needs the DAHDI trunk it belongs to"),
    ({"channel": 1, "kind": "fxo", "trunk": "pstn", "extension": "100"},
     "analog_port.extension: an FXO port is a line, not a phone"),
    ({"channel": 1, "kind": "fxs", "extension": "100", "card": "pci:0000:03:00.0"},
     "analog_port.port: give the port number on the card"),
    ({"channel": 0, "kind": "fxs", "extension": "100"}, "analog_port.channel: must be at least 1"),
    ({"channel": 1, "kind": "fxs", "extension": "100", "card": "a;b", "port": 1}, "analog_port.card: 'a;b' is not"),
])
def test_port_field_errors_name_the_field(install, data, expected):
    assert any(p.startswith(expected) for p in problems_of("analog_port", data)), problems_of("analog_port", data)


def test_unknown_tone_zone_is_refused(install):
    with pytest.raises(SiteError) as raised:
        service.save_settings({"tone_zone": "xx"}, U)
    assert str(raised.value).startswith("settings.tone_zone: 'xx' is not a DAHDI tone zone (known: us, au, fr")
    assert service.save_settings({"tone_zone": "fr"}, U).tone_zone == "fr"


def messages(s) -> list[str]:
    return [str(p) for p in check_site(s)]


def test_cross_object_problems_name_both_sides():
    s = site(extensions=["100"], trunks=[{"name": "pstn", "group": 1}, {"name": "other", "group": 1}],
             sip_trunks=[{"name": "pstn", "host": "sip.example.com"}],
             ports=[{"channel": 1, "kind": "fxs", "extension": "100"},
                    {"channel": 2, "kind": "fxs", "extension": "100"},
                    {"channel": 3, "kind": "fxs", "extension": "105"},
                    {"channel": 4, "kind": "fxo", "trunk": "nowhere"}],
             spans=[{"span": 1, "source": "loc", "loc": "1:0", "trunk": "missing"}])
    found = messages(s)
    assert "DAHDI trunk pstn name: SIP trunk pstn has this name: outbound routes could not tell them apart" in found
    assert "DAHDI trunk other group: group 1 is already DAHDI trunk pstn's" in found
    assert "analog port 2 extension: extension 100 is already the phone on analog port 1" in found
    assert "analog port 3 extension: extension 105 does not exist" in found
    assert "analog port 4 trunk: DAHDI trunk nowhere does not exist" in found
    assert "span 1 trunk: DAHDI trunk missing does not exist" in found


def test_overlapping_channels_and_duplicate_card_ports_are_caught():
    s = site(extensions=["100", "101"], trunks=[{"name": "pri", "group": 1}],
             ports=[{"channel": 1, "kind": "fxs", "extension": "100", "card": "pci:0000:03:00.0", "port": 1},
                    {"channel": 2, "kind": "fxs", "extension": "101", "card": "pci:0000:03:00.0", "port": 1}],
             spans=[{"span": 1, "card": "A", "trunk": "pri", "timing": 1},
                    {"span": 2, "card": "A", "trunk": "pri", "timing": 1}])
    found = messages(s)
    assert "analog port 2 port: port 1 of card pci:0000:03:00.0 is already analog port 1" in found
    assert any(m.startswith("analog port 2 channel: ports of card pci:0000:03:00.0 must be channels in port order")
               for m in found)
    assert "span 2 timing: timing priority 1 is already span 1's (use 1, 2, ... once each, or 0)" in found
    assert "span 2 local_span: local span 1 of card A is already span 1" in found


def test_loc_and_card_spans_cannot_be_mixed_and_loc_addresses_are_unique():
    s = site(trunks=[{"name": "pri", "group": 1}],
             spans=[{"span": 1, "source": "loc", "loc": "1:0", "trunk": "pri"},
                    {"span": 2, "source": "loc", "loc": "1:0", "trunk": "pri"},
                    {"span": 3, "card": "A", "trunk": "pri"}])
    found = messages(s)
    assert "span 2 loc: loc 1:0 is already span 1" in found
    assert any(m.startswith("span source: card spans and loc spans cannot be mixed") for m in found)


def test_a_port_bound_to_a_missing_extension_is_refused_on_save(install):
    service.save_object("dahdi_trunk", {"name": "pstn", "group": 1}, U, create=True)
    with pytest.raises(SiteError) as raised:
        service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)
    assert "analog port 1 extension: extension 100 does not exist" in str(raised.value)
    assert service.list_objects("analog_port") == []


def test_an_extension_with_a_phone_on_a_port_cannot_be_deleted(install):
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)
    with pytest.raises(SiteError) as raised:
        service.delete_object("extension", "100", U)
    assert "extension 100 is used by analog port 1 (extension): change that first" in str(raised.value)


def test_a_port_is_edited_by_its_channel_as_the_console_sends_it(install):
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100", "echo_cancel": False},
                        U, original_key="1")
    assert service.get_object("analog_port", "1").echo_cancel is False


def _dahdi_site() -> None:
    service.save_object("extension", {"number": "100", "name": "Reception", "voicemail": True}, U, create=True)
    service.save_object("extension", {"number": "101", "name": "Office"}, U, create=True)
    service.save_object("trunk", {"name": "voip", "host": "sip.example.com"}, U, create=True)
    service.save_object("dahdi_trunk", {"name": "pstn", "group": 1, "hunting": "round_robin_descending"}, U,
                        create=True)
    service.save_object("dahdi_trunk", {"name": "pri", "group": 2, "destination": "extension:101",
                                        "caller_id": "212555"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)
    service.save_object("analog_port", {"channel": 2, "kind": "fxo", "trunk": "pstn"}, U, create=True)
    service.save_object("span", {"span": 1, "source": "loc", "loc": "1:0", "line_type": "t1", "trunk": "pri"}, U,
                        create=True)
    service.save_object("ring_group", {"number": "600", "name": "All", "members": ["100", "101"]}, U, create=True)
    service.save_object("outbound_route", {"name": "out", "patterns": [{"match": "_9X.", "strip": 1}],
                                           "trunks": ["pri", "pstn", "voip"]}, U, create=True)


def test_dialplan_rings_the_fxs_port_and_fails_over_across_dahdi_and_sip_trunks(install):
    _dahdi_site()
    files = render.render_all(service.snapshot(), install.facts())
    ext = files["extensions.conf"]
    assert "exten => 100,1,Gosub(sub-extension-dahdi,s,1(100,25,yes,never,DAHDI/1))" in ext
    # the SIP phone 101 is reached through its number range and its row (the analog phone has its own line)
    assert "exten => _1XX,1,Gosub(sub-local,s,1(${EXTEN}))" in ext and "exten => 101," not in ext
    assert projection.site_rows(service.snapshot())["lb_extensions"]["101"] == ("101", "25", "no", "never")
    assert " same => n,Dial(DAHDI/1&PJSIP/101,20,t)" in ext  # the ring group rings the analog phone too
    route = ext[ext.index("[outrt-out]"):].split("\n\n")[0]
    assert route.index("sub-dahdi-dial,s,1(pri,${LB_NUMBER},0,DAHDI/g2,212555)") < route.index(
        "sub-dahdi-dial,s,1(pstn,${LB_NUMBER},0,DAHDI/R1,)") < route.index("sub-trunk-dial,s,1(voip,")
    pri_in = ext[ext.index("[from-dahdi-pri]"):].split("\n\n")[0]
    assert "Goto(ext-local,101,1)" in pri_in and "exten => s,1" in pri_in
    assert "Goto(from-trunk,${EXTEN},1)" in ext[ext.index("[from-dahdi-pstn]"):]
    modules = files["modules.conf"]
    assert "noload => chan_dahdi.so" not in modules and "noload => res_timing_dahdi.so" not in modules


def test_without_ports_chan_dahdi_stays_unloaded(install):
    modules = render.render_all(service.snapshot(), install.facts())["modules.conf"]
    assert "noload => chan_dahdi.so" in modules


def test_export_import_round_trip_with_ports_spans_and_gateways(install):
    _dahdi_site()
    gateways.adopt("000b82000001", "ht802", U, name="Lobby", address="10.0.0.9")
    gateways.bind_fxs("000b82000001", 2, "101", U)
    text = config_file.export_text()
    assert "analog_ports:" in text and "spans:" in text and "dahdi_trunks:" in text
    assert "gateways:" in text and "000b82000001" in text
    gateways.delete_gateway("000b82000001", U)
    config_file.import_text(text, U)
    assert config_file.export_text() == text
    assert gateways.get_gateway("000b82000001")["ports"][1]["extension"] == "101"


def test_import_names_the_line_of_a_bad_span_and_of_a_bad_gateway(install):
    text = config_file.export_text() + ("dahdi_trunks:\n- name: pri\n  group: 1\n"
                                        "spans:\n- span: 1\n  card: A\n  trunk: pri\n  line_type: t1\n  crc4: true\n")
    with pytest.raises(SiteError) as raised:
        config_file.parse_text(text.replace("dahdi_trunks: []\n", "").replace("spans: []\n", ""))
    [problem] = raised.value.problems
    assert problem.where == "spans.0.crc4" and problem.line is not None
    bad_gateway = config_file.export_text() + "gateways:\n- mac: 000b82000001\n  model: nosuch\n"
    with pytest.raises(SiteError) as raised:
        config_file.parse_text(bad_gateway)
    assert [p.where for p in raised.value.problems] == ["gateways.0.model"]


def test_a_database_from_before_v7_gains_the_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v6.db"
    assert migrations.MIGRATIONS.index(migrations._v7_telephony_hardware) == 6  # schema version 7
    db = database_before(migrations._v7_telephony_hardware, path)
    assert "span" not in db.get_tables()
    db.close()
    try:
        open_database(path)
        assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
        assert {"analogport", "span", "dahditrunk"} <= set(database.obj.get_tables())
        assert [e.number for e in service.list_objects("extension")] == ["100"]
        service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)
        assert service.get_object("analog_port", "1").extension == "100"
    finally:
        close_database()


def test_an_agent_on_an_analog_phone_logs_in_with_its_port_not_a_sip_endpoint(install):
    from appliance.callcenter.agents import interface
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, U, create=True)
    service.save_object("analog_port", {"channel": 3, "kind": "fxs", "extension": "100"}, U, create=True)
    # the console's login (QueueAdd), pause and the auto-pause use this; queues.conf rings the same device
    assert interface("100") == "DAHDI/3"
    assert interface("101") == "PJSIP/101"
