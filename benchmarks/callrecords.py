"""Call-record search over 1,000,000 calls (``appliance.callcenter.callrecords.search_calls``).

1,000,000 calls over 30 days, written straight into the call records table: each an extension's leg and,
for 60 % of them, a second leg through one of 10 trunks to an outside number (priced), 15 % of the calls
through a queue (with its queue call).  Then the searches the call-record page offers are timed, each for
its first page of 50 calls with the count of every match: no filter, one day, a number prefix, an
extension, a trunk, a queue, an outcome over a week, a minimum cost over a week.  ``call_record_search_ms``
is the slowest; the search with no filter at all (every call grouped and sorted by its first start) is the
slow one, and ``search_all_counted_apart_ms`` times it the way ``search_calls`` did before it counted the
matches in the same query (the grouped query run twice).

Figures go to ``benchmarks/results/callrecords.json`` with the machine's load average.
"""

from __future__ import annotations

import datetime
import random
import shutil
import tempfile
import time
import zoneinfo
from decimal import Decimal
from pathlib import Path

from appliance.callcenter import callrecords
from appliance.callcenter.callrecords import Search
from appliance.install import Install
from appliance.model.database import close_database, database
from benchmarks.sites import run_header, save_figures

CALLS = 1_000_000
EXTENSIONS = 2_000
TRUNKS = 10
START = datetime.datetime(2026, 11, 1)
ZONE = zoneinfo.ZoneInfo("UTC")


def _fill(rng: random.Random) -> None:
    records, stays = [], []
    seconds = 30 * 86400
    for i in range(CALLS):
        start = START + datetime.timedelta(seconds=i * seconds // CALLS)
        text = start.strftime("%Y-%m-%d %H:%M:%S")
        linkedid = f"{1_790_000_000 + i}.{i}"
        extension = str(10000 + rng.randrange(EXTENSIONS))
        answered = rng.random() < 0.8
        billsec = rng.randint(1, 600) if answered else 0
        disposition = "ANSWERED" if answered else rng.choice(("NO ANSWER", "BUSY"))
        number = f"139{rng.randrange(10**8):08d}"
        records.append((linkedid, 0, linkedid, text, f"PJSIP/{extension}-1", extension, number, billsec,
                        disposition, "", "", "", None, ""))
        if rng.random() < 0.6:
            cost = rng.randint(0, 5000) if answered else 0
            records.append((f"{linkedid}b", 0, linkedid, text, f"PJSIP/{extension}-1", extension, number, billsec,
                            disposition, extension, f"trunk{rng.randrange(TRUNKS)}", number, cost, "CNY"))
        if rng.random() < 0.15:
            stays.append((linkedid, str(700 + rng.randrange(5)), int(start.timestamp()), number,
                          "answered" if answered else "abandoned"))
        if len(records) >= 50_000:
            _store(records, stays)
            records, stays = [], []
    _store(records, stays)


def _store(records: list[tuple], stays: list[tuple]) -> None:
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO callrecord (uniqueid, sequence, linkedid, start, channel, src, dst, billsec, disposition,"
            " extension, trunk, number, cost_minor, currency, answer, end, dcontext, dstchannel, lastapp, duration,"
            " userfield) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', 'Dial', 0, '')", records)
        database.cursor().executemany(
            "INSERT INTO queuecall (callid, queue, entered, caller, outcome, wait_seconds, talk_seconds, agent,"
            " ended_by) VALUES (?, ?, ?, ?, ?, 10, 60, '', '')", stays)


def _timed_ms(search: Search) -> tuple[float, int]:
    started = time.perf_counter()
    page, total = callrecords.search_calls(search, limit=50, zone=ZONE)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    assert len(page) == min(50, total)
    return elapsed, total


def bench_search(home: Path) -> dict:
    Install.create(home, manage_asterisk=False).open()
    try:
        _fill(random.Random(7))
        day = datetime.date(2026, 11, 15)
        week = (datetime.date(2026, 11, 10), datetime.date(2026, 11, 16))
        searches = {
            "all": Search(),
            "one_day": Search(first_day=day, last_day=day),
            "number_prefix": Search(number="1391234*"),
            "extension": Search(extension="10042"),
            "trunk_one_day": Search(trunk="trunk3", first_day=day, last_day=day),
            "queue": Search(queue="701"),
            "busy_week": Search(outcome="BUSY", first_day=week[0], last_day=week[1]),
            "cost_week": Search(min_cost=Decimal("40"), first_day=week[0], last_day=week[1]),
        }
        figures: dict = {"calls": CALLS}
        for name, search in searches.items():
            elapsed, total = _timed_ms(search)
            figures[f"search_{name}_ms"] = elapsed
            figures[f"search_{name}_matches"] = total
        figures["call_record_search_ms"] = max(v for k, v in figures.items() if k.endswith("_ms"))
        # the way search_calls worked before: the grouped query run twice (a count, then the page)
        started = time.perf_counter()
        matching = callrecords._matching_calls(Search(), ZONE)
        matching.count()
        list(matching.limit(50).tuples())
        figures["search_all_counted_apart_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return figures
    finally:
        close_database()


def main() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linebox-callrecords-bench-"))
    try:
        figures = {**run_header(), **bench_search(tmp / "search")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    save_figures("callrecords", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:32} {value}")
