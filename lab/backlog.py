"""A large backlog of Asterisk's call-center logs, written the way Asterisk writes them.

The collector's fault drill (tests/services/test_collector_backlog.py) and its benchmark
(``benchmarks.collector``) need what a busy box leaves behind while the collector is stopped (an
upgrade, a crash loop, a restored backup): a ``queue_log`` of hundreds of thousands of lines and a CDR
database of as many call records, in Asterisk's own formats, so the collector reads exactly what it
reads on a box:

* ``queue_log``: ``time|callid|queue|agent|event|data...``, one line per event in time order, the lines of
  concurrent calls interleaved (a call's events straddle any chunk the collector reads), agents named by
  their member name (``log_membername_as_agent = yes``, as Linebox renders queues.conf), agents logging
  in, pausing and out, with Asterisk's data fields for each event;
* ``linebox-cdr.db``: the table ``cdr_sqlite3_custom`` creates from Linebox's cdr_sqlite3_custom.conf
  (``AcctId INTEGER PRIMARY KEY`` and untyped columns) holding text values as that module writes them:
  one record per caller leg and one per agent leg that rang out.

Deterministic for a seed, streamed to disk (a million lines need no more memory than a thousand), and
every line distinct (the collector's unique index would fold identical lines into one), so a test can
expect exact counts: ``Backlog`` says how many of each were written.
"""

from __future__ import annotations

import heapq
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The columns Linebox's cdr_sqlite3_custom.conf names (appliance/provisioning/templates), in its order.
CDR_COLUMNS = ("start_time", "answer_time", "end_time", "clid", "src", "dst", "dcontext", "channel", "dstchannel",
               "lastapp", "lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
               "linkedid", "userfield", "sequence")
QUEUES = 10
AGENTS = 40


@dataclass
class Backlog:
    """What was written: the counts a collector that lost and duplicated nothing ends up with."""

    lines: int = 0  # queue_log lines (every one distinct)
    calls: int = 0  # callers who entered a queue (QueueCall rows)
    answered: int = 0
    abandoned: int = 0
    timeouts: int = 0
    cdr_rows: int = 0


def _stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_backlog(log_dir: Path, lines: int, start: int, seed: int = 15) -> Backlog:
    """Write ``queue_log`` (at least ``lines`` lines) and ``linebox-cdr.db`` into ``log_dir``.

    Calls arrive every 0 to 4 seconds from ``start`` (epoch seconds), so a million lines cover about six
    days.  The CDR database is made afresh; an existing queue_log is replaced.
    """
    rng = random.Random(seed)
    log_dir.mkdir(parents=True, exist_ok=True)
    cdr_path = log_dir / "linebox-cdr.db"
    cdr_path.unlink(missing_ok=True)
    done = Backlog()
    pending: list[tuple[int, int, str]] = []  # (time, order, line): each call's later events, by time
    order = 0
    cdr_rows: list[tuple] = []

    def event(t: int, line: str) -> None:
        nonlocal order
        order += 1
        heapq.heappush(pending, (t, order, f"{t}|{line}\n"))

    def cdr(start_t: int, answer_t: int | None, end_t: int, src: str, dst: str, channel: str, dstchannel: str,
            disposition: str, uniqueid: str, linkedid: str, sequence: int) -> None:
        billsec = end_t - answer_t if answer_t is not None else 0
        cdr_rows.append((_stamp(start_t), _stamp(answer_t) if answer_t is not None else "", _stamp(end_t),
                         f'"{src}" <{src}>', src, dst, "from-trunk", channel, dstchannel, "Queue",
                         f"{dst},t,,,300", str(end_t - start_t), str(billsec), disposition, "DOCUMENTATION", "",
                         uniqueid, linkedid, "", str(sequence)))

    with closing(sqlite3.connect(cdr_path)) as db, open(log_dir / "queue_log", "w") as out:
        db.execute(f"CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, {', '.join(CDR_COLUMNS)})")
        insert = f"INSERT INTO cdr ({', '.join(CDR_COLUMNS)}) VALUES ({', '.join('?' * len(CDR_COLUMNS))})"

        def flush(before: int) -> None:
            while pending and pending[0][0] < before:
                out.write(heapq.heappop(pending)[2])
                done.lines += 1
            if len(cdr_rows) >= 5000:
                db.executemany(insert, cdr_rows)
                db.commit()
                cdr_rows.clear()

        t = start
        event(t, "NONE|NONE|NONE|QUEUESTART|")
        for agent in range(AGENTS):  # the morning's logins; each agent takes a lunch break later
            queue, member = str(700 + agent % QUEUES), str(200 + agent)
            event(t, f"NONE|{queue}|{member}|ADDMEMBER|")
        paused: set[int] = set()
        last_change: dict[int, int] = {}
        channels = 0  # Asterisk's uniqueids: "<start>.<n>", one per channel

        def uniqueid() -> str:
            nonlocal channels
            channels += 1
            return f"{start}.{channels}"

        call = 0
        while done.lines + len(pending) < lines:
            t += rng.randint(0, 4)
            flush(t)
            agent = rng.randrange(AGENTS)
            if rng.random() < 0.002 and last_change.get(agent) != t:  # an agent goes on a break, or is back
                last_change[agent] = t
                queue, member = str(700 + agent % QUEUES), str(200 + agent)
                if agent in paused:
                    paused.discard(agent)
                    event(t, f"NONE|{queue}|{member}|UNPAUSE|")
                else:
                    paused.add(agent)
                    event(t, f"NONE|{queue}|{member}|PAUSE|{rng.choice(('lunch', 'break', 'training'))}")
            call += 1
            callid, queue = uniqueid(), str(700 + call % QUEUES)
            caller = f"+4420{rng.randrange(10_000_000):07d}"  # some callers call again: first-call resolution
            channel = f"PJSIP/telco-{call:08x}"
            position = rng.randint(1, 5)
            done.calls += 1
            event(t, f"{callid}|{queue}|NONE|ENTERQUEUE||{caller}|{position}")
            sequence = 0
            wait = rng.randint(0, 120)
            fate = rng.random()
            if fate < 0.82:
                rang = t
                for _ in range(rng.choice((0, 0, 0, 1, 2))):  # agents who let it ring out first
                    member = str(200 + rng.randrange(AGENTS))
                    rang += rng.randint(1, max(1, wait // 3))
                    event(rang, f"{callid}|{queue}|{member}|RINGNOANSWER|15000")
                    sequence += 1
                    cdr(rang - 15, None, rang, caller, queue, channel, f"PJSIP/{member}-{channels + 1:08x}",
                        "NO ANSWER", uniqueid(), callid, sequence)
                member = str(200 + rng.randrange(AGENTS))
                talk = rng.randint(20, 900)
                answered = t + wait
                leg = uniqueid()
                event(answered, f"{callid}|{queue}|{member}|CONNECT|{wait}|{leg}|{rng.randint(1, 15)}")
                ender = rng.choice(("COMPLETECALLER", "COMPLETEAGENT"))
                event(answered + talk, f"{callid}|{queue}|{member}|{ender}|{wait}|{talk}|{position}")
                cdr(t, answered, answered + talk, caller, queue, channel, f"PJSIP/{member}-{channels:08x}", "ANSWERED",
                    callid, callid, 0)
                done.answered += 1
            elif fate < 0.97:
                event(t + wait, f"{callid}|{queue}|NONE|ABANDON|{position}|{position}|{wait}")
                cdr(t, t, t + wait, caller, queue, channel, "", "ANSWERED", callid, callid, 0)
                done.abandoned += 1
            else:
                event(t + 300, f"{callid}|{queue}|NONE|EXITWITHTIMEOUT|{position}|{position}|300")
                cdr(t, t, t + 300, caller, queue, channel, "", "ANSWERED", callid, callid, 0)
                done.timeouts += 1
            done.cdr_rows += 1 + sequence
        flush(t + 3600)  # the calls still up end
        for agent in range(AGENTS):
            event(t + 3600, f"NONE|{700 + agent % QUEUES}|{200 + agent}|REMOVEMEMBER|")
        flush(t + 7200)
        db.executemany(insert, cdr_rows)
        db.commit()
    return done
