"""The site's time zone: reports, the wallboard's "today" and the roll-ups count local days (issue 18).

A Beijing team's day starts at midnight in Beijing, not at 08:00 (midnight UTC): a call that entered the
queue at 00:30 Beijing time on 10 November (16:30 UTC on the 9th) is one of the 10th's calls, in the
reports read live and in those read from the daily roll-ups alike, and on the wallboard that morning.
A UTC site keeps counting that call on the 9th, as before.  Storage stays in UTC epochs.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from appliance import config_file
from appliance.callcenter import collector, live, reports, rollup
from appliance.cli.linebox import main
from appliance.errors import SiteError
from appliance.model.models import CollectorState, QueueDayStat
from appliance.site import localtime, schemas, service
from appliance.site.numbering import NumberClass, NumberPlan, classify

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# 00:30 on 10 November 2026 in Beijing = 16:30 UTC on 9 November
EARLY = int(datetime(2026, 11, 10, 0, 30, tzinfo=SHANGHAI).timestamp())
# 10:00 Beijing that day: another call, which every reading puts on the 10th
LATER = int(datetime(2026, 11, 10, 10, 0, tzinfo=SHANGHAI).timestamp())


@pytest.fixture(autouse=True)
def queue(install):
    service.save_object("queue", {"number": "700", "name": "Orders"}, "test", create=True)


def collect(tmp_path, lines: list[str]) -> None:
    log = tmp_path / "queue_log"
    log.write_text("".join(line + "\n" for line in lines))
    collector.collect_queue_log(log)


def call(epoch: int, callid: str) -> list[str]:
    """One call into queue 700, answered after 5 s, 60 s of talk."""
    return [f"{epoch}|{callid}|700|NONE|ENTERQUEUE||+8613800000000|1",
            f"{epoch + 5}|{callid}|700|201|CONNECT|5|{callid}.2|2",
            f"{epoch + 65}|{callid}|700|201|COMPLETECALLER|5|60|1"]


def offered(first: date, last: date, zone: zoneinfo.ZoneInfo) -> int:
    start, end = localtime.days(first, last, zone)
    return sum(k.offered for k in reports.queue_report(start, end))


def test_a_shanghai_report_counts_a_call_at_half_past_midnight_on_its_own_day(install, tmp_path):
    service.save_settings({"timezone": "Asia/Shanghai"}, "admin")
    collect(tmp_path, call(EARLY, "early") + call(LATER, "later"))
    assert rollup.rolled_through() > LATER  # both days are past: the roll-ups hold them, in Beijing days
    assert {row.day for row in QueueDayStat.select()} == {"2026-11-10"}
    for source in ("roll-ups", "live"):
        assert offered(date(2026, 11, 10), date(2026, 11, 10), SHANGHAI) == 2, source
        assert offered(date(2026, 11, 9), date(2026, 11, 9), SHANGHAI) == 0, source
        start, end = localtime.days(date(2026, 11, 9), date(2026, 11, 10), SHANGHAI)
        assert [(d.day, d.offered) for d in reports.daily_report(start, end)] == [("2026-11-10", 2)], source
        assert [(h, o) for h, o, _ in reports.calls_per_hour(start, end)] == [("2026-11-10 00", 1),
                                                                            ("2026-11-10 10", 1)], source
        CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # then read live

    # the wallboard that day (at noon Beijing time) counts the 00:30 call as one of today's
    morning = datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI).timestamp()
    assert live.queue_figures(now=morning)["queues"]["700"]["answered"] == 2
    # ... and the next Beijing morning starts from zero
    assert live.queue_figures(now=morning + 86400)["queues"]["700"]["answered"] == 0

    # `linebox report --from 2026-11-10` counts Beijing's 10 November
    result = CliRunner().invoke(main, ["--home", str(install.home), "report", "--from", "2026-11-10", "--csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("700,2,2,")


def test_a_utc_site_counts_that_call_on_the_day_before_as_it_always_did(install, tmp_path):
    service.save_settings({"timezone": "UTC"}, "admin")
    collect(tmp_path, call(EARLY, "early") + call(LATER, "later"))
    utc = zoneinfo.ZoneInfo("UTC")
    assert offered(date(2026, 11, 9), date(2026, 11, 9), utc) == 1
    assert offered(date(2026, 11, 10), date(2026, 11, 10), utc) == 1
    noon = datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI).timestamp()  # 04:00 UTC on the 10th
    assert live.queue_figures(now=noon)["queues"]["700"]["answered"] == 1
    assert CollectorState.get(CollectorState.source == rollup.STATE).identity == ""  # the roll-ups of before


def test_changing_the_zone_rolls_the_days_again_and_reports_stay_exact_meanwhile(install, tmp_path):
    service.save_settings({"timezone": "UTC"}, "admin")
    collect(tmp_path, call(EARLY, "early") + call(LATER, "later"))
    assert {row.day for row in QueueDayStat.select()} == {"2026-11-09", "2026-11-10"}
    service.save_settings({"timezone": "Asia/Shanghai"}, "admin")
    assert rollup.rolled_through() == 0  # UTC roll-ups are not Beijing days: reports read the calls live
    assert offered(date(2026, 11, 10), date(2026, 11, 10), SHANGHAI) == 2
    collector.collect_once(collector.Sources.in_log_dir(tmp_path))  # the collector's next round rolls again
    assert {row.day for row in QueueDayStat.select()} == {"2026-11-10"}
    assert rollup.rolled_through() > LATER
    assert offered(date(2026, 11, 10), date(2026, 11, 10), SHANGHAI) == 2


def test_a_day_of_25_hours_is_one_day(install, tmp_path):
    """Europe/London leaves summer time on 25 October 2026: that day has 25 hours, all of them its own."""
    london = zoneinfo.ZoneInfo("Europe/London")
    service.save_settings({"timezone": "Europe/London"}, "admin")
    first = int(datetime(2026, 10, 25, 0, 15, tzinfo=london).timestamp())
    last = int(datetime(2026, 10, 25, 23, 30, tzinfo=london).timestamp())
    collect(tmp_path, call(first, "a") + call(last, "b"))
    start, end = localtime.days(date(2026, 10, 25), date(2026, 10, 25), london)
    assert (end - start) == timedelta(hours=25)
    for source in ("roll-ups", "live"):
        assert offered(date(2026, 10, 25), date(2026, 10, 25), london) == 2, source
        assert [h for h, _, _ in reports.calls_per_hour(start, end)] == ["2026-10-25 00", "2026-10-25 23"], source
        CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()


def test_the_setting_takes_iana_names_only_and_defaults_to_the_box_zone(install, tmp_path):
    for bad in ("Mars/Olympus", "Asia/Shanghai\n[evil]", "../etc/passwd", "UTC,1"):
        with pytest.raises(SiteError) as error:
            service.save_settings({"timezone": bad}, "admin")
        assert error.value.problems[0].where == "settings.timezone"
    assert service.load_settings().timezone == localtime.box_timezone()
    etc = tmp_path / "etc"
    etc.mkdir()
    assert localtime.box_timezone(etc) == "UTC"
    (etc / "localtime").symlink_to("/usr/share/zoneinfo/Europe/Paris")
    assert localtime.box_timezone(etc) == "Europe/Paris"
    (etc / "timezone").write_text("Asia/Shanghai\n")
    assert localtime.box_timezone(etc) == "Asia/Shanghai"


def test_a_site_made_chinese_gets_cn_tones_and_beijing_time_unless_it_chose_others(install):
    service.save_settings({"language": "zh"}, "admin")
    settings = service.load_settings()
    assert (settings.tone_zone, settings.timezone) == ("cn", "Asia/Shanghai")
    # China's number plan: the classifier knows its mobiles and its emergency numbers from then on
    assert (settings.prompt_language, settings.country_code) == ("zh", "86")
    assert classify("13912345678", NumberPlan.stored()).number_class == NumberClass.MOBILE
    # chosen ones are kept
    service.save_settings({"language": "en", "tone_zone": "uk", "timezone": "Europe/London"}, "admin")
    service.save_settings({"language": "zh"}, "admin")
    assert (service.load_settings().tone_zone, service.load_settings().timezone) == ("uk", "Europe/London")
    # a site file that names its own keeps them too
    base = schemas.Settings(timezone="UTC").model_dump()
    assert schemas.with_language_defaults(base, {"language": "zh", "tone_zone": "tw"})["tone_zone"] == "tw"


def test_a_site_file_in_chinese_sets_up_a_chinese_site(install):
    summary = config_file.import_text("linebox: 1\nsettings:\n  language: zh\n", user="admin")
    settings = service.load_settings()
    assert (settings.language, settings.tone_zone, settings.timezone) == ("zh", "cn", "Asia/Shanghai")
    assert {c.name for c in summary.settings} >= {"language", "tone_zone", "timezone"}  # the summary says so


def test_offsets_follow_daylight_saving():
    london = zoneinfo.ZoneInfo("Europe/London")
    start = int(datetime(2026, 10, 24, tzinfo=UTC).timestamp())
    change = int(datetime(2026, 10, 25, 1, 0, tzinfo=UTC).timestamp())  # 02:00 BST -> 01:00 GMT
    assert localtime.offsets(start, start + 3 * 86400, london) == [(start, 3600), (change, 0)]
    assert localtime.offsets(start, start + 86400, SHANGHAI) == [(start, 8 * 3600)]


def test_call_record_search_takes_local_days_and_shows_local_times(install):
    """`linebox calls --since DAY --until DAY` reads the days in the site's zone; the table shows its times.
    Asterisk writes CDR times in its own local time (the box's), whatever that is here."""
    from appliance.callcenter.collector import asterisk_time
    from appliance.model.models import CallRecord

    service.save_settings({"timezone": "Asia/Shanghai"}, "admin")
    for i, (moment, dst) in enumerate([(datetime(2026, 11, 9, 23, 30), "301"), (datetime(2026, 11, 10, 0, 30), "302"),
                                       (datetime(2026, 11, 10, 23, 59), "303"), (datetime(2026, 11, 11, 0, 1), "304")]):
        CallRecord.create(uniqueid=f"17.{i}", sequence=0, linkedid=f"17.{i}", src="100", dst=dst,
                          start=asterisk_time(moment.replace(tzinfo=SHANGHAI).timestamp()), disposition="ANSWERED")
    home = str(install.home)
    result = CliRunner().invoke(main, ["--home", home, "calls", "--since", "2026-11-10", "--until", "2026-11-10"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "since 2026-11-10 00:00 until 2026-11-11 00:00 (Asia/Shanghai" in lines[0]
    assert [(line.split()[1], line.split()[3]) for line in lines[2:]] == [("23:59:00", "303"), ("00:30:00", "302")]
    # one day from its Beijing midnight on
    result = CliRunner().invoke(main, ["--home", home, "calls", "--since", "2026-11-11"])
    assert [line.split()[3] for line in result.output.splitlines()[2:]] == ["304"]
    bad = CliRunner().invoke(main, ["--home", home, "calls", "--since", "2026-11-10", "--until", "soon"])
    assert bad.exit_code != 0 and "cannot read the time 'soon'" in bad.output
