"""Least-cost routing's order of a route's trunks (appliance.billing.lcr), and the dialplan it drives."""

from __future__ import annotations

import datetime

import pytest

from appliance.billing import lcr, rates, rates_csv
from appliance.site import service

DAY = datetime.date(2026, 12, 7)
HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"


def choice(trunk: str, per_minute: str | None, fee: str = "0", currency: str = "CNY") -> lcr.Choice:
    line = None if per_minute is None else rates.RateLine(per_minute=per_minute, connection_fee=fee,
                                                         currency=currency)
    return lcr.Choice(trunk, line)


def names(choices: list[lcr.Choice]) -> list[str]:
    return [c.trunk for c in choices]


def test_the_cheapest_per_minute_goes_first_then_the_lower_fee():
    assert names(lcr.order([choice("a", "0.20"), choice("b", "0.08"), choice("c", "0.10")])) == ["b", "c", "a"]
    assert names(lcr.order([choice("a", "0.10", "0.05"), choice("b", "0.10", "0.01")])) == ["b", "a"]


def test_equal_prices_keep_the_configured_order():
    assert names(lcr.order([choice("a", "0.10"), choice("b", "0.10"), choice("c", "0.1000")])) == ["a", "b", "c"]
    assert names(lcr.order([choice("c", "0.10"), choice("b", "0.10"), choice("a", "0.10")])) == ["c", "b", "a"]


def test_trunks_with_no_rate_go_last_in_their_configured_order():
    order = lcr.order([choice("x", None), choice("a", "0.50"), choice("y", None), choice("b", "0.10")])
    assert names(order) == ["b", "a", "x", "y"]
    assert names(lcr.order([choice("x", None), choice("y", None)])) == ["x", "y"]


def test_prices_in_another_currency_are_not_compared_and_go_after():
    order = lcr.order([choice("usd", "0.01", currency="USD"), choice("a", "0.30"), choice("b", "0.20"),
                       choice("none", None)])
    assert names(order) == ["usd", "a", "b", "none"]  # CNY is not the first priced trunk's currency
    order = lcr.order([choice("a", "0.30"), choice("usd", "0.01", currency="USD"), choice("b", "0.20")])
    assert names(order) == ["b", "a", "usd"]


@pytest.fixture
def trunks(install):
    for name in ("telco", "backup", "spare"):
        service.save_object("trunk", {"name": name, "host": "192.0.2.10"}, user="test")
    return install


def test_the_line_that_prices_the_number_decides_longest_prefix_first(trunks):
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.20,60/60,,,CNY,\r\n").encode(), DAY, "test")
    rates_csv.import_bytes("backup", (HEADER + ",mobile,0.08,60/60,,,CNY,\r\n1380,,0.90,60/60,,,CNY,\r\n")
                           .encode(), DAY, "test")
    route = ["telco", "backup", "spare"]
    assert names(lcr.trunk_order("13912345678", "mobile", route, DAY)) == ["backup", "telco", "spare"]
    # backup's longer prefix line prices 1380... dearer than telco's class line
    assert names(lcr.trunk_order("13800138000", "mobile", route, DAY)) == ["telco", "backup", "spare"]
    # a class no table prices: no trunk has a rate, the configured order stays
    assert names(lcr.trunk_order("60001234", "local", route, DAY)) == route


def test_the_table_in_force_on_the_day_of_the_call_decides(trunks):
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.20,60/60,,,CNY,\r\n").encode(), DAY, "test")
    rates_csv.import_bytes("backup", (HEADER + ",mobile,0.30,60/60,,,CNY,\r\n").encode(), DAY, "test")
    later = DAY + datetime.timedelta(days=10)
    rates_csv.import_bytes("backup", (HEADER + ",mobile,0.05,60/60,,,CNY,\r\n").encode(), later, "test")
    route = ["telco", "backup"]
    assert names(lcr.trunk_order("13912345678", "mobile", route, DAY)) == ["telco", "backup"]
    assert names(lcr.trunk_order("13912345678", "mobile", route, later - datetime.timedelta(days=1))) == route
    assert names(lcr.trunk_order("13912345678", "mobile", route, later)) == ["backup", "telco"]
    # before any table: no rates at all
    assert names(lcr.trunk_order("13912345678", "mobile", ["backup", "telco"], DAY - datetime.timedelta(days=1))) \
        == ["backup", "telco"]


def test_the_price_shown_beside_a_trunk():
    assert choice("a", "0.12", "0.05").price == "0.12 CNY/min + 0.05"
    assert choice("a", "0.12").price == "0.12 CNY/min"
    assert choice("a", None).price == ""


def test_the_outbound_trace_names_the_route_the_number_sent_and_the_trunks_in_order(trunks):
    from click.testing import CliRunner

    from appliance.cli.linebox import main
    from appliance.errors import SiteError
    from appliance.provisioning import trace_outbound

    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    service.save_object("outbound_route", {"name": "mobiles", "position": 5, "least_cost": True,
                                           "patterns": [{"match": "_91NXXXXXXXXX", "strip": 1}],
                                           "trunks": ["spare", "telco", "backup"]}, user="test")
    service.save_object("outbound_route", {"name": "plain", "position": 9, "patterns": [{"match": "_8X."}],
                                           "trunks": ["backup", "telco"]}, user="test")
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.20,60/60,0.05,,CNY,\r\n").encode(), DAY, "test")
    rates_csv.import_bytes("backup", (HEADER + ",mobile,0.08,60/60,,,CNY,\r\n").encode(), DAY, "test")
    found = trace_outbound.trace_outbound_stored("913912345678", DAY.isoformat())
    assert (found.route, found.number, found.number_class, found.least_cost) == ("mobiles", "13912345678",
                                                                                 "mobile", True)
    assert names(found.trunks) == ["backup", "telco", "spare"]
    plain = trace_outbound.trace_outbound_stored("8123", DAY.isoformat())
    assert (plain.route, plain.least_cost, names(plain.trunks)) == ("plain", False, ["backup", "telco"])
    assert trace_outbound.trace_outbound_stored("555", DAY.isoformat()).route == ""
    with pytest.raises(SiteError, match="not a day"):
        trace_outbound.trace_outbound_stored("8123", "tomorrow")
    with pytest.raises(SiteError, match="not a dialled number"):
        trace_outbound.trace_outbound_stored("12;34", DAY.isoformat())

    result = CliRunner().invoke(main, ["--home", str(trunks.home), "trace", "--outbound", "913912345678",
                                       "--at", f"{DAY.isoformat()} 10:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "route mobiles" in lines[1] and "least-cost" in lines[2]
    assert lines[3:] == [" 1. backup: 0.08 CNY/min", " 2. telco: 0.2 CNY/min + 0.05", " 3. spare: no rate"]
