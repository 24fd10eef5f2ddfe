"""Several processes saving at once (console, CLI, collector) all succeed: none gets "database is locked".

Each writer is a separate Python process on the same real SQLite file, as the
console, the CLI and the collector are on the box.  They run transactions that
read before they write (``update_contact`` reads the contact, then updates it):
under SQLite's default deferred ``BEGIN`` such a transaction cannot be upgraded
to a writer once another process has committed, and SQLite answers "database
is locked" at once, without waiting for the busy timeout.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from appliance.model.database import close_database, open_database
from appliance.model.models import QueueEvent
from appliance.phonebook import contacts

WRITERS = 3
ROUNDS = 60

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from appliance.model.database import open_database
    from appliance.phonebook import contacts

    path, contact_id, start, rounds = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    open_database(path)
    while not start.exists():   # every writer starts together: the test creates the file once all are ready
        time.sleep(0.005)
    failures = 0
    for i in range(rounds):
        try:
            contacts.update_contact(contact_id, {"name": f"Writer {contact_id}", "note": f"round {i}",
                                                 "numbers": [f"0{contact_id}{i:04d}"]}, "writer")
            contacts.create_contact({"name": f"New {contact_id}-{i}", "numbers": [f"1{contact_id}{i:04d}"]},
                                    "writer")
        except Exception as error:  # noqa: BLE001 - the test counts every failure, whatever its kind
            failures += 1
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
    print(failures)
""")


COLLECTOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from appliance.callcenter import collector
    from appliance.model.database import open_database

    path, log, start, rounds = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    open_database(path)
    while not start.exists():
        time.sleep(0.005)
    failures = 0
    for i in range(rounds):  # Asterisk writes a few queue events, the collector stores them
        with open(log, "a") as handle:
            handle.write("".join(f"{1780000000 + i}|c{i}|700|NONE|ENTERQUEUE||+44{i:06d}{n}|1\\n" for n in range(3)))
        try:
            collector.collect_queue_log(log)
        except Exception as error:  # noqa: BLE001 - the test counts every failure, whatever its kind
            failures += 1
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
    print(failures)
""")


def test_concurrent_writers_in_separate_processes_all_succeed(tmp_path):
    path = tmp_path / "linebox.db"
    open_database(path)
    ids = [contacts.create_contact({"name": f"Writer {n}", "numbers": [f"09{n}"]}, "test")["id"]
           for n in range(WRITERS)]
    close_database()
    start = tmp_path / "start"
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(contact_id), str(start), str(ROUNDS)],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for contact_id in ids]
    procs.append(subprocess.Popen([sys.executable, "-c", COLLECTOR, str(path), str(tmp_path / "queue_log"), str(start),
                                   str(ROUNDS)], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        start.touch()
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    errors = "\n".join(err for _out, err in outputs)
    assert [int(out.strip() or -1) for out, _err in outputs] == [0] * (WRITERS + 1), errors[-3000:]
    open_database(path)
    try:
        assert len(contacts.all_contacts()) == WRITERS + WRITERS * ROUNDS
        assert QueueEvent.select().count() == 3 * ROUNDS  # the collector's rounds: every line, once
        for contact_id in ids:
            assert contacts.get_contact(contact_id)["note"] == f"round {ROUNDS - 1}"
    finally:
        close_database()
