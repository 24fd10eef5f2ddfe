"""DAHDI writers: every port kind and span type, as dahdi_cfg and chan_dahdi will read them."""

from __future__ import annotations

import re

from hardware.dahdi_config import DAHDI_FILES, render_dahdi
from hardware.detect import DetectedDevice, Inventory
from tests.dahdi.sites import lab_pri, site


def lines(text: str) -> list[str]:
    """The meaningful lines (comments and blank lines dropped), as the reading program sees them."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", ";"))]


def blocks(chan_dahdi: str) -> list[dict[str, str]]:
    """chan_dahdi.conf's channel blocks: the settings in force at each ``channel =>`` line."""
    current: dict[str, str] = {}
    out = []
    for line in lines(chan_dahdi.split("[channels]", 1)[1]):
        key, _, value = (part.strip() for part in re.split(r"(=>?)", line, maxsplit=1))
        if line.startswith("channel =>"):
            out.append({**current, "channel": value})
        else:
            current[key] = value
    return out


def test_all_files_are_rendered_for_any_site():
    files = render_dahdi(site())
    assert list(files) == list(DAHDI_FILES)
    assert lines(files["dahdi/system.conf"]) == ["loadzone=us", "defaultzone=us"]
    assert blocks(files["asterisk/chan_dahdi.conf"]) == []


def test_e1_span_is_ccs_hdb3_crc4_with_its_d_channel_on_16():
    files = render_dahdi(site(
        trunks=[{"name": "telco", "group": 1}],
        spans=[{"span": 1, "card": "1DA4B0123456", "trunk": "telco", "timing": 1, "switch_type": "euroisdn"}]))
    assert lines(files["dahdi/system.conf"]) == [
        "span=1,1,0,ccs,hdb3,crc4", "bchan=1-15,17-31", "dchan=16", "echocanceller=mg2,1-15,17-31",
        "loadzone=us", "defaultzone=us"]
    [block] = blocks(files["asterisk/chan_dahdi.conf"])
    assert block["channel"] == "1-15,17-31"
    assert (block["signalling"], block["switchtype"], block["group"]) == ("pri_cpe", "euroisdn", "1")
    assert block["context"] == "from-dahdi-telco"
    assert lines(files["dahdi/assigned-spans.conf"]) == ["1DA4B0123456 1:1:1"]


def test_t1_span_is_esf_b8zs_without_crc4_and_its_d_channel_is_24():
    files = render_dahdi(site(
        trunks=[{"name": "telco", "group": 1}],
        spans=[{"span": 1, "card": "1DA4B0123456", "trunk": "telco", "line_type": "t1", "side": "network",
                "switch_type": "ni1", "timing": 0, "lbo": 2}]))
    system = lines(files["dahdi/system.conf"])
    assert system[:3] == ["span=1,0,2,esf,b8zs", "bchan=1-23", "dchan=24"]
    [block] = blocks(files["asterisk/chan_dahdi.conf"])
    assert (block["signalling"], block["switchtype"], block["channel"]) == ("pri_net", "ni1", "1-23")


def test_card_spans_follow_each_other_and_are_pinned_by_assigned_spans():
    files = render_dahdi(site(
        trunks=[{"name": "telco", "group": 1}],
        spans=[{"span": 2, "card": "1DA4B0123456", "local_span": 2, "trunk": "telco", "timing": 2},
               {"span": 1, "card": "1DA4B0123456", "local_span": 1, "trunk": "telco", "timing": 1}]))
    assert lines(files["dahdi/assigned-spans.conf"]) == ["1DA4B0123456 1:1:1", "1DA4B0123456 2:2:32"]
    system = lines(files["dahdi/system.conf"])
    assert "span=2,2,0,ccs,hdb3,crc4" in system and "bchan=32-46,48-62" in system and "dchan=47" in system
    # pinned spans: DAHDI's own default (no auto-assignment) must stay
    assert "auto_assign_spans" not in "\n".join(lines(files["modprobe.d/linebox-dahdi.conf"]))


def test_loc_spans_are_the_lab_recipe():
    files = render_dahdi(lab_pri())
    assert lines(files["dahdi/system.conf"]) == [
        "dynamic=loc,1:0,24,0", "dynamic=loc,1:1,24,0",
        "bchan=1-23", "dchan=24", "bchan=25-47", "dchan=48", "loadzone=us", "defaultzone=us"]
    assert lines(files["dahdi/modules"]) == ["dahdi_dynamic", "dahdi_dynamic_loc"]
    assert lines(files["modprobe.d/linebox-dahdi.conf"]) == ["options dahdi auto_assign_spans=1"]
    assert lines(files["dahdi/assigned-spans.conf"]) == []
    net, cpe = blocks(files["asterisk/chan_dahdi.conf"])
    assert (net["signalling"], net["switchtype"], net["group"], net["channel"]) == ("pri_net", "national", "1", "1-23")
    assert (cpe["signalling"], cpe["group"], cpe["channel"], cpe["context"]) == ("pri_cpe", "2", "25-47",
                                                                               "from-dahdi-pri-cpe")


def test_fxs_port_gets_fxo_signalling_and_rings_its_extension():
    files = render_dahdi(site(extensions=[("100", {"voicemail": True})],
                              ports=[{"channel": 1, "kind": "fxs", "extension": "100"}]))
    system = lines(files["dahdi/system.conf"])
    assert "fxoks=1" in system  # inverted: the port feeds a phone, so it speaks FXO signalling
    assert not any(line.startswith("fxsks") for line in system)
    [block] = blocks(files["asterisk/chan_dahdi.conf"])
    assert block["signalling"] == "fxo_ks"
    assert (block["context"], block["callerid"], block["mailbox"]) == ("from-internal", '"Phone 100" <100>', "100")
    assert block["channel"] == "1"


def test_fxo_port_gets_fxs_signalling_and_joins_its_trunk_group():
    files = render_dahdi(site(trunks=[{"name": "pstn", "group": 3}],
                              ports=[{"channel": 2, "kind": "fxo", "trunk": "pstn"}]))
    system = lines(files["dahdi/system.conf"])
    assert "fxsks=2" in system  # inverted: the port takes a telephone line, so it speaks FXS signalling
    assert not any(line.startswith("fxoks") for line in system)
    [block] = blocks(files["asterisk/chan_dahdi.conf"])
    assert (block["signalling"], block["group"], block["context"]) == ("fxs_ks", "3", "from-dahdi-pstn")
    assert block["callerid"] == "asreceived"


def test_chan_dahdi_settings_do_not_leak_from_one_port_to_the_next():
    files = render_dahdi(site(extensions=["100"], trunks=[{"name": "pstn", "group": 3}],
                              ports=[{"channel": 1, "kind": "fxo", "trunk": "pstn"},
                                     {"channel": 2, "kind": "fxs", "extension": "100"}]))
    fxo, fxs = blocks(files["asterisk/chan_dahdi.conf"])
    assert fxo["group"] == "3" and fxs["group"] == ""  # the phone must not join the line's trunk group
    assert fxs["context"] == "from-internal" and fxo["callerid"] == "asreceived"


def test_analog_only_site_assigns_spans_automatically_and_uses_the_tone_zone():
    files = render_dahdi(site(extensions=["100"], zone="de", ports=[{"channel": 1, "kind": "fxs", "extension": "100"}]))
    assert lines(files["modprobe.d/linebox-dahdi.conf"]) == ["options dahdi auto_assign_spans=1"]
    assert lines(files["dahdi/system.conf"])[-2:] == ["loadzone=de", "defaultzone=de"]


def test_a_caller_name_cannot_break_out_of_chan_dahdi_conf():
    evil = site(extensions=[("100", {})], ports=[{"channel": 1, "kind": "fxs", "extension": "100"}])
    evil.objects["extension"][0] = evil.objects["extension"][0].model_copy(update={"name": 'Bob" <999>; x=y \\'})
    [block] = blocks(render_dahdi(evil)["asterisk/chan_dahdi.conf"])
    assert block["callerid"] == '"Bob 999 x=y" <100>'


def _device(key: str, driver: str, sys_path: str, ports: list[dict]) -> DetectedDevice:
    return DetectedDevice(bus="pci", address=key[4:], sys_path=sys_path, vendor="d161", device="1420",
                          subvendor=None, subdevice=None, status="known", vendor_name="Digium", model=driver,
                          expected_driver=driver, driver=driver, state=None, card={"ports": ports}, advice=())


def test_inventory_gives_the_drivers_and_the_sysfs_path_of_each_card():
    inventory = Inventory((
        _device("pci:0000:04:00.0", "wct4xxp", "/sys/devices/pci0000:00/0000:00:1c.4/0000:04:00.0",
                [{"kind": "e1t1", "count": 4}]),
        _device("pci:0000:03:00.0", "wcaxx", "/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0",
                [{"kind": "fxs", "count": 2}, {"kind": "fxo", "count": 2}]),
    ))
    files = render_dahdi(site(
        extensions=["100"], trunks=[{"name": "telco", "group": 1}],
        ports=[{"channel": 1, "kind": "fxs", "extension": "100", "card": "pci:0000:03:00.0", "port": 1}],
        spans=[{"span": 1, "card": "pci:0000:04:00.0", "trunk": "telco"}]), inventory)
    assert lines(files["dahdi/modules"]) == ["wcaxx", "wct4xxp"]
    # the analog card has 4 ports (1 configured): the E1 span starts after all of them
    assert lines(files["dahdi/assigned-spans.conf"]) == [
        "@pci0000:00/0000:00:1c.4/0000:04:00.0/pci:0000:04:00.0 1:1:5",
        "@pci0000:00/0000:00:1c.0/0000:03:00.0/pci:0000:03:00.0 1:2:1",
    ]


def test_a_card_missing_from_the_scan_is_named_in_modules():
    files = render_dahdi(site(trunks=[{"name": "telco", "group": 1}],
                              spans=[{"span": 1, "card": "pci:0000:04:00.0", "trunk": "telco"}]))
    assert lines(files["dahdi/modules"]) == []
    assert "pci:0000:04:00.0: not in the last hardware scan" in files["dahdi/modules"]


def test_rendering_is_deterministic():
    assert render_dahdi(lab_pri()) == render_dahdi(lab_pri())
