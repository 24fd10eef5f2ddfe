"""The satisfaction survey's figures from stored queue_log lines: per queue and agent, and per queue.

The lab test (tests/lab/test_supervise.py) has real callers press the digits; here the report's arithmetic
and the ways it is read (``linebox report --survey``, CSV) are checked on lines written as Asterisk writes
them, including what must not count.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from appliance.callcenter import collector, survey
from appliance.callcenter.reports import today
from appliance.cli.linebox import main

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines


def _call(when: int, callid: str, queue: str, agent: str, digit: str | None) -> str:
    lines = [f"{when}|{callid}|{queue}|NONE|ENTERQUEUE||+4412345|1",
             f"{when + 2}|{callid}|{queue}|{agent}|CONNECT|2|{callid}9|0",
             f"{when + 30}|{callid}|{queue}|{agent}|COMPLETEAGENT|2|28|1"]
    if digit is not None:
        lines.append(f"{when + 35}|{callid}|{queue}|{agent}|SURVEY|{digit}")
    return "\n".join(lines) + "\n"


def test_ratings_are_counted_and_averaged_per_agent_and_queue(install, tmp_path):
    now = int(today()[0].timestamp()) + 60  # early today in the site's time zone, whenever the test runs
    queue_log = tmp_path / "queue_log"
    queue_log.write_text("".join([
        _call(now, "1.1", "700", "201", "5"), _call(now + 1, "1.2", "700", "201", "4"),
        _call(now + 2, "1.3", "700", "202", "1"), _call(now + 3, "1.4", "701", "202", "3"),
        _call(now + 4, "1.5", "700", "201", None),  # hung up before rating: no rating, not a zero
        _call(now + 5, "1.6", "700", "202", "9"),  # not a rating Linebox writes: ignored
        _call(now - 3 * 86400, "1.7", "700", "201", "1"),  # another day
    ]))
    collector.collect_queue_log(queue_log)
    rows = [(r.queue, r.agent, r.ratings, r.average, r.ones, r.fours, r.fives)
            for r in survey.survey_report(*today())]
    assert rows == [("700", "201", 2, 4.5, 0, 1, 1), ("700", "202", 1, 1.0, 1, 0, 0), ("700", "", 3, 3.33, 1, 1, 1),
                    ("701", "202", 1, 3.0, 0, 0, 0), ("701", "", 1, 3.0, 0, 0, 0)]
    assert [r.agent for r in survey.survey_report(*today(), queue="701")] == ["202", ""]

    shown = CliRunner().invoke(main, ["--home", str(install.home), "report", "--survey"])
    assert shown.exit_code == 0, shown.output
    assert "700     201              2     4.5    0    0    0    1    1" in shown.output, shown.output
    assert "700     (all)            3    3.33" in shown.output, shown.output
    csv = CliRunner().invoke(main, ["--home", str(install.home), "report", "--survey", "--csv", "--no-bom"])
    assert csv.output.splitlines()[0] == "queue,agent,ratings,average,ones,twos,threes,fours,fives"
