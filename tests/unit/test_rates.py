"""Trunks' rate tables and the price of a call (appliance.billing): decimal money, increments, versions."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from appliance.billing import rates, rates_csv
from appliance.cli.linebox import main
from appliance.errors import SiteError
from appliance.model.models import AuditEntry, Rate
from appliance.site import service

TODAY = datetime.date(2026, 12, 7)


def line(**values) -> rates.RateLine:
    return rates.RateLine(**{"per_minute": "0.10", **values})


@pytest.mark.parametrize(("billed", "increment", "expected"), [
    (0, "60/60", 0),  # unanswered: nothing
    (1, "60/60", 60),
    (60, "60/60", 60),
    (61, "60/60", 120),
    (61, "6/6", 66),
    (61, "1/1", 61),
    (31, "30/6", 36),
    (29, "30/6", 30),
])
def test_charged_seconds_round_up_to_whole_units_after_the_first(billed, increment, expected) -> None:
    first, following = line(increment=increment).units
    assert rates.charged_seconds(billed, first, following) == expected


def test_a_call_costs_the_fee_plus_the_rate_for_its_charged_seconds_rounded_once_half_up() -> None:
    rate = line(per_minute="0.15", increment="6/6", connection_fee="0.05")
    charge = rates.price(61, rate)  # 66 s at 0.15/min = 0.165, + 0.05 = 0.215 -> 0.22
    assert charge == rates.Charge(66, 0, Decimal("0.22"), "CNY")
    assert rates.price(0, rate).cost == Decimal("0.00")  # no answer, no fee


def test_free_minutes_of_the_bundle_are_taken_first_and_the_fee_still_counts() -> None:
    rate = line(per_minute="0.20", increment="60/60", connection_fee="0.10", free_minutes=100)
    assert rates.price(150, rate, free_seconds_left=120) == rates.Charge(180, 120, Decimal("0.30"), "CNY")
    assert rates.price(150, rate, free_seconds_left=600).cost == Decimal("0.10")


def test_currencies_round_to_their_own_minor_unit() -> None:
    assert rates.price(61, line(per_minute="7", increment="1/1", currency="jpy")).cost == Decimal("7")
    assert rates.price(61, line(per_minute="7", increment="1/1", currency="KWD")).cost == Decimal("7.117")


def test_the_longest_prefix_prices_a_number_then_its_class_then_the_default() -> None:
    table = rates.Table([line(prefix="86", per_minute="1"), line(prefix="8613", per_minute="2"),
                         line(number_class="mobile", per_minute="3"), line(per_minute="4")])
    assert table.line_for("+8613912345678", "international").per_minute == "2"
    assert table.line_for("8621600012", "international").per_minute == "1"
    assert table.line_for("13912345678", "mobile").per_minute == "3"
    assert table.line_for("60001234", "local").per_minute == "4"
    assert rates.Table([line(prefix="86")]).line_for("4412", "international") is None


def _csv(*rows: str) -> bytes:
    return ("prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"
            + "".join(r + "\r\n" for r in rows)).encode()


@pytest.fixture
def trunk(install):
    service.save_object("trunk", {"name": "telco", "host": "192.0.2.10"}, user="test")
    return "telco"


def test_a_file_with_a_bad_line_stores_nothing_and_names_every_bad_line(trunk) -> None:
    data = _csv(",local,0.10,60/60,,,,", "139,,abc,60/60,,,,", "86,,0.5,0/60,,,,", ",local,0.2,,,,,",
                ",,0.1,,,,EUR,", ",,0.1,,,,XXQ,")
    with pytest.raises(SiteError) as error:
        rates_csv.import_bytes(trunk, data, TODAY, "test")
    text = str(error.value)
    assert "line 3: per_minute" in text and "'abc' is not an amount" in text
    assert "line 4: increment" in text
    assert "line 5: prefix: class local is already in line 2" in text
    assert "line 7: currency" in text and "XXQ" in text
    assert Rate.select().count() == 0 and AuditEntry.select().where(AuditEntry.kind == "rates").count() == 0


def test_an_import_is_the_table_from_its_date_on_earlier_calls_keep_their_price(trunk) -> None:
    rates_csv.import_bytes(trunk, _csv("8613,,0.10,60/60,,,CNY,mobile", ",,0.05,6/6,,,CNY,"), TODAY, "alice")
    later = TODAY + datetime.timedelta(days=30)
    rates_csv.import_bytes(trunk, _csv("8613,,0.08,60/60,,,CNY,"), later, "alice")
    assert rates.table_dates(trunk) == [TODAY, later]
    assert [ln.per_minute for ln in rates.table_in_force(trunk, TODAY)[1]] == ["0.05", "0.1"]
    assert [ln.per_minute for ln in rates.table_in_force(trunk, later)[1]] == ["0.08"]
    assert rates.table_in_force(trunk, TODAY - datetime.timedelta(days=1)) == (None, [])
    # importing again from today replaces both tables from today on
    rates_csv.import_bytes(trunk, _csv(",,0.07,60/60,,,CNY,"), TODAY, "bob")
    assert rates.table_dates(trunk) == [TODAY]
    entry = AuditEntry.select().where(AuditEntry.kind == "rates").order_by(AuditEntry.id.desc()).get()
    assert entry.user == "bob" and entry.key == trunk and entry.after == {"valid_from": "2026-12-07", "lines": 1}


def test_export_reads_back_as_the_same_table_bom_and_formula_guard_included(trunk) -> None:
    rates_csv.import_bytes(trunk, b"\xef\xbb\xbf" + _csv("8613,,0.100,30/6,0.05,100,cny,=mobile"), TODAY, "t")
    text = rates_csv.export_text(trunk, TODAY)
    assert "8613,,0.1,30/6,0.05,100,CNY,'=mobile" in text
    rates_csv.import_bytes(trunk, text.encode(), TODAY + datetime.timedelta(days=1), "t")
    assert rates.table_in_force(trunk, TODAY)[1] == rates.table_in_force(trunk, TODAY + datetime.timedelta(1))[1]


def test_a_table_for_a_trunk_that_does_not_exist_is_refused(install) -> None:
    with pytest.raises(SiteError, match="no trunk named 'nope'"):
        rates_csv.import_bytes("nope", _csv(",,0.1,,,,,"), TODAY, "t")


def test_the_cli_imports_prices_and_exports(install, trunk, tmp_path) -> None:
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    table = tmp_path / "telco.csv"
    table.write_bytes(_csv(",mobile,0.12,60/60,0.05,,CNY,", ",local,0.02,6/6,,,CNY,"))
    home = ["--home", str(install.home)]
    done = CliRunner().invoke(main, [*home, "rates", "import", trunk, str(table), "--from", "2026-01-01"])
    assert done.exit_code == 0, done.output
    assert "2 rate line(s) from 2026-01-01" in done.output
    priced = CliRunner().invoke(main, [*home, "rates", "price", trunk, "13912345678", "61", "--on", "2026-02-01"])
    assert priced.exit_code == 0, priced.output
    assert "mobile" in priced.output and "charged 120 s: 0.29 CNY" in priced.output
    bad = CliRunner().invoke(main, [*home, "rates", "import", trunk, str(table), "--from", "soon"])
    assert bad.exit_code == 1 and "--from: 'soon' is not a date" in bad.output
    exported = CliRunner().invoke(main, [*home, "rates", "export", trunk, "--on", "2026-03-01"])
    assert exported.output.splitlines()[1:] == [",local,0.02,6/6,0,0,CNY,", ",mobile,0.12,60/60,0.05,0,CNY,"]
