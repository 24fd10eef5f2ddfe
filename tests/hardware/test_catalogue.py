"""The card catalogue: the shipped data loads, matches like the kernel's ID tables, and rejects typos."""

from __future__ import annotations

import copy

import pytest
import yaml

from hardware.catalogue import CatalogueError, load_catalogue, parse_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def raw():
    from importlib import resources
    return yaml.safe_load(resources.files("hardware").joinpath("data/cards.yaml").read_text())


def test_every_family_the_issue_names_is_covered(catalogue):
    drivers = {c.driver for c in catalogue.cards}
    assert {"wctdm", "wctdm24xxp", "wcaxx", "wcte12xp", "wct1xxp", "wcte11xp", "wct4xxp", "wcte13xp", "wcte43x",
            "wcb4xxp", "opvxa1200", "xpp_usb"} <= drivers
    models = " ".join(c.model for c in catalogue.cards)
    for name in ("TDM400P", "TDM410P", "TDM800P", "TDM2400P", "AEX2400", "A4A", "A4B", "A8A", "A8B", "TE110P",
                 "TE120P", "TE121", "TE122", "TE205P", "TE220", "TE410P", "TE420", "TE820", "TE131", "TE133",
                 "TE134", "TE235", "TE435", "B410P", "A800P", "A1200P", "D410E", "D430", "B200P", "B400P",
                 "Astribank"):
        assert name in models, name


def test_every_entry_cites_a_source_and_says_whether_it_is_verified(catalogue):
    for card in catalogue.cards:
        assert card.source.startswith("["), card
        assert isinstance(card.verified, bool)


@pytest.mark.parametrize(("ids", "model", "driver"), [
    (("pci", "d161", "1420", "0005", "0000"), "TE420 (5th gen, PCI Express)", "wct4xxp"),
    (("pci", "0xD161", "0x0410", "0x0003", "0x0000"), "TE410P (3rd gen)", "wct4xxp"),
    (("pci", "d161", "0410", "1234", "0000"), "TE410P (2nd gen)", "wct4xxp"),  # PCI_ANY_ID entry
    (("pci", "d161", "800d", None, None), "A8B (PCI Express)", "wcaxx"),
    (("pci", "d161", "8005", None, None), "TDM410P", "wctdm24xxp"),
    (("pci", "d161", "b410", "d161", "b410"), "B410P (PCI)", "wcb4xxp"),
    (("pci", "e159", "0001", "b100", "0001"), "TDM400P rev E/F", "wctdm"),
    (("pci", "e159", "0001", "71fe", "0000"), "TE110P", "wcte11xp"),
    (("pci", "e159", "0001", "6159", "0000"), "T100P (T1) / E100P (E1)", "wct1xxp"),
    (("pci", "e159", "0001", "9500", "0003"), "A800P", "opvxa1200"),
    (("pci", "1397", "08b4", "1397", "e888"), "B400P/B400E (HFC-4S)", "wcb4xxp"),
    (("pci", "1b74", "d430", "1b74", "0001"), "D430P/D430E (3rd gen)", "wct4xxp"),
    (("usb", "e4e4", "1152", None, None), "Astribank-multi (FXS/FXO)", "xpp_usb"),
])
def test_match_picks_the_most_specific_entry(catalogue, ids, model, driver):
    card = catalogue.match(*ids)
    assert card is not None and (card.model, card.driver) == (model, driver)


@pytest.mark.parametrize("ids", [
    ("pci", "d161", "1420", "0000", "0000"),   # 5th-gen device ID without the 0x0005 subsystem vendor
    ("pci", "e159", "0001", "1234", "0000"),   # a Tiger Jet chip on some other card
    ("pci", "1397", "08b4", "1397", "b520"),   # an HFC-4S card from another maker
    ("pci", "8086", "10d3", "8086", "a01f"),   # a network card
    ("usb", "d161", "1420", None, None),       # right IDs, wrong bus
])
def test_match_refuses_what_the_driver_would_not_claim(catalogue, ids):
    assert catalogue.match(*ids) is None


def test_astribank_firmware_states(catalogue):
    states = {c.device: c.state for c in catalogue.cards if c.vendor == "e4e4"}
    for product in ("113", "114", "115", "116"):
        assert (states[product + "0"], states[product + "1"], states[product + "2"]) == (
            "no-firmware", "usb-firmware", "ready")


def test_cards_outside_debian_dahdi_say_so(catalogue):
    for ids in (("pci", "d161", "8005"), ("pci", "1b74", "d430"), ("pci", "1397", "08b4", "1397", "e888")):
        card = catalogue.match(*ids)
        assert not card.upstream and card.driver_note, ids


def test_telephony_vendors(catalogue):
    assert catalogue.telephony_vendor("pci", "0xd161") == "Digium (Sangoma)"
    assert catalogue.telephony_vendor("pci", "1923") == "Sangoma"
    assert catalogue.telephony_vendor("pci", "1B74") == "OpenVox"
    assert catalogue.telephony_vendor("usb", "e4e4") == "Xorcom"
    assert catalogue.telephony_vendor("pci", "8086") is None


def test_card_dict_is_json_friendly(catalogue):
    data = catalogue.match("pci", "d161", "800e").to_dict()
    assert data["id"] == "d161:800e" and data["ports"] == [{"kind": "e1t1", "count": [2, 4]}]
    assert data["echo_canceller"]["type"] == "optional"


def _break(raw, change):
    data = copy.deepcopy(raw)
    change(data)
    return data


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["families"][0]["cards"][0].update(vendor="E159"), "4 lowercase hex digits"),
    (lambda d: d["families"][0]["cards"][0].update(vendr="e159"), "unknown field"),
    (lambda d: d["families"][0]["cards"][0].update(ports=[{"kind": "isdn", "count": 1}]), "port kind"),
    (lambda d: d["families"][0]["cards"][0].update(echo_canceller={"type": "maybe"}), "echo_canceller type"),
    (lambda d: d["families"][0]["cards"][0].update(verified="yes"), "verified must be true or false"),
    (lambda d: d["families"][0]["cards"].append(dict(d["families"][0]["cards"][1])), "already listed"),
    (lambda d: d["families"][0].pop("driver"), "missing field"),
    (lambda d: d.update(schema=2), "schema: 1"),
])
def test_malformed_catalogue_is_rejected_with_a_clear_message(raw, change, message):
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(_break(raw, change))
