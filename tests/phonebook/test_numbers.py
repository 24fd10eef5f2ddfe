"""Number normalisation and the equivalence the caller-name lookup matches on."""

from __future__ import annotations

import pytest

from appliance.phonebook.numbers import dialable_forms, equivalents, normalize


@pytest.mark.parametrize(("typed", "stored"), [
    ("+44 20 7946 0018", "+442079460018"),
    ("+44 (20) 7946-0018", "+442079460018"),
    ("0044 20 7946 0018", "+442079460018"),
    ("020 7946.0018", "02079460018"),
    ("(555) 000-1111", "5550001111"),
    ("+1 555/000 1111", "+15550001111"),
    ("  100 ", "100"),
])
def test_separators_are_dropped_and_00_becomes_plus(typed, stored):
    assert normalize(typed) == stored


@pytest.mark.parametrize("bad", ["", "   ", "anonymous", "12a4", "+", "++44 20", "1", "1" * 21, "*97", "12#",
                                 "+44 20 7946 0018 ext 3"])
def test_what_is_not_a_number_says_so(bad):
    with pytest.raises(ValueError) as raised:
        normalize(bad)
    assert "number" in str(raised.value)


def test_with_a_country_code_the_three_ways_of_writing_a_national_number_are_one():
    forms = {"+442079460018", "02079460018", "2079460018"}
    for written in forms:
        assert equivalents(written, "44") == forms
    assert equivalents(normalize("0044 20 7946 0018"), "44") == forms


def test_other_countries_and_no_country_code_match_only_as_written():
    assert equivalents("+33123456789", "44") == {"+33123456789"}
    assert equivalents("+442079460018", "") == {"+442079460018"}
    assert equivalents("02079460018", "") == {"02079460018"}


def test_nanp_national_numbers_without_a_trunk_prefix_match_the_international_form():
    assert "+15550001111" in equivalents("5550001111", "1")
    assert "5550001111" in equivalents("+15550001111", "1")


def test_a_callback_dials_the_most_local_form_first():
    # a Chinese mobile as the carrier sent it, from a site in China: national, with the trunk prefix, then +
    assert dialable_forms("+8613912345678", "86") == ["13912345678", "013912345678", "+8613912345678",
                                                      "008613912345678"]
    # another country's number: only its international forms
    assert dialable_forms("+15550001111", "86") == ["+15550001111", "0015550001111"]
    # a site without a country code knows no national form
    assert dialable_forms("+15550001111", "") == ["+15550001111", "0015550001111"]
