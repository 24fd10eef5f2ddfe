"""The one number classifier (appliance.site.numbering) on the numbers a Chinese site and others dial."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.site import schemas
from appliance.site.checks import Site
from appliance.site.numbering import NumberClass, NumberPlan, classify

SHANGHAI = NumberPlan(country_code="86", area_code="21", internal=frozenset({"2001", "600"}))


@pytest.mark.parametrize(("dialled", "expected"), [
    ("110", NumberClass.EMERGENCY),  # police
    ("119", NumberClass.EMERGENCY),  # fire
    ("120", NumberClass.EMERGENCY),  # ambulance
    ("122", NumberClass.EMERGENCY),  # road accidents: not in the library's list, added for China
    ("112", NumberClass.EMERGENCY),  # everywhere
    ("2001", NumberClass.INTERNAL),
    ("600", NumberClass.INTERNAL),
    ("60001234", NumberClass.LOCAL),  # a Shanghai fixed line dialled without 021
    ("02160001234", NumberClass.LOCAL),  # ... and with it
    ("+862160001234", NumberClass.LOCAL),
    ("01087654321", NumberClass.NATIONAL),  # Beijing from Shanghai
    ("13912345678", NumberClass.MOBILE),
    ("+8613912345678", NumberClass.MOBILE),
    ("8008001234", NumberClass.TOLL_FREE),
    ("4008001234", NumberClass.NATIONAL),  # 400: shared cost, the caller pays a domestic rate
    ("10086", NumberClass.LOCAL),  # a carrier's service line, standard rate
    ("00441632960000", NumberClass.INTERNATIONAL),
    ("+12025550123", NumberClass.INTERNATIONAL),
    ("0085212345678", NumberClass.INTERNATIONAL),  # Hong Kong, from the mainland
    ("16012345678", NumberClass.UNKNOWN),  # a mobile-looking range not in service
    ("1", NumberClass.UNKNOWN),
    ("12ab", NumberClass.UNKNOWN),
    ("", NumberClass.UNKNOWN),
])
def test_numbers_a_shanghai_site_dials(dialled: str, expected: NumberClass) -> None:
    assert classify(dialled, SHANGHAI).number_class == expected


def test_without_an_area_code_every_fixed_line_is_national_and_a_bare_local_number_unknown() -> None:
    plan = NumberPlan(country_code="86")
    assert classify("02160001234", plan).number_class == NumberClass.NATIONAL
    assert classify("60001234", plan).number_class == NumberClass.UNKNOWN


def test_other_countries_use_their_own_ranges_and_international_prefix() -> None:
    london = NumberPlan(country_code="44", area_code="20")
    assert classify("999", london).number_class == NumberClass.EMERGENCY
    assert classify("02079460018", london).number_class == NumberClass.LOCAL
    assert classify("01212345678", london).number_class == NumberClass.NATIONAL
    assert classify("07400123456", london).number_class == NumberClass.MOBILE
    assert classify("09098790000", london).number_class == NumberClass.PREMIUM
    assert classify("0080012345678", london).number_class == NumberClass.INTERNATIONAL
    us = NumberPlan(country_code="1")
    assert classify("911", us).number_class == NumberClass.EMERGENCY
    assert classify("2025550123", us).number_class == NumberClass.NATIONAL  # fixed or mobile: one class
    assert classify("8002530000", us).number_class == NumberClass.TOLL_FREE
    assert classify("011862160001234", us).number_class == NumberClass.INTERNATIONAL


def test_without_a_country_only_emergency_internal_and_full_international_numbers_are_known() -> None:
    plan = NumberPlan(internal=frozenset({"2001"}))
    assert classify("112", plan).number_class == NumberClass.EMERGENCY
    assert classify("2001", plan).number_class == NumberClass.INTERNAL
    assert classify("+442079460018", plan).number_class == NumberClass.INTERNATIONAL
    unknown = classify("02160001234", plan)
    assert unknown.number_class == NumberClass.UNKNOWN and "country code" in unknown.reason


def test_the_reason_names_the_called_country_or_the_class_as_a_person_reads_it() -> None:
    called = classify("00441632960000", SHANGHAI)
    assert called.country_code == "44" and "+44" in called.reason
    assert classify("8008001234", SHANGHAI).reason == "a toll-free number"


def test_a_sites_plan_holds_every_number_its_objects_are_reached_by() -> None:
    site = Site()
    site.settings = schemas.Settings(country_code="86", area_code="21")
    site.objects["extension"] = [schemas.Extension(number="2001", name="Li Wei", password="Q7t9Zk2mXw4pLr8s")]
    site.objects["queue"] = [schemas.Queue(number="600", name="Sales")]
    plan = NumberPlan.for_site(site)
    assert plan.internal == {"2001", "600"} and plan.area_code == "21" and plan.region == "CN"


def test_an_area_code_without_a_country_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="area_code"):
        schemas.Settings(area_code="21")


@given(st.from_regex(r"\+?[0-9]{0,20}", fullmatch=True))
def test_any_digits_get_a_class_never_an_exception(dialled: str) -> None:
    assert classify(dialled, SHANGHAI).number_class in NumberClass
