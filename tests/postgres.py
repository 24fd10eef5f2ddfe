"""A throwaway PostgreSQL cluster for the tests that run on both database engines.

Debian's PostgreSQL 15 server binaries, run as the ``postgres`` user (the server refuses to run as root),
with its data and its socket in a temporary folder that user owns, listening on 127.0.0.1 only, on a port
the kernel picked.  It is started by the first test that asks for it (``conftest.postgres_cluster``) and
stopped by its PID at the end of the session, whatever the tests did; each test gets a database of its
own (``Cluster.new_database``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(pid: int) -> bool:
    """Whether the process lives (a zombie waiting for a reaper counts as gone)."""
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except FileNotFoundError:
        return False


class Cluster:
    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(f"{BIN / 'initdb'} is missing: install Debian's postgresql (debian-packages.txt)")
        if os.geteuid() != 0:
            raise RuntimeError("the PostgreSQL tests start the server as the postgres user: run them as root")
        account = pwd.getpwnam(USER)
        self.folder = Path(tempfile.mkdtemp(prefix="linebox-pg-"))
        os.chown(self.folder, account.pw_uid, account.pw_gid)
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.port = _free_port()
        self.pid: int | None = None
        self._names = itertools.count(1)
        self._shared = ""

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", USER, "--", *command], check=True, capture_output=True, text=True,
                       timeout=120)

    def start(self) -> None:
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                          "--locale=C", "--no-sync")
        # durability is of no use to a throwaway cluster: no fsync keeps the tests quick
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off")
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                          "-w", "-t", "60", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, name: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def _admin(self, statement: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.url())
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    def new_database(self, template: str = "template1") -> str:
        """A new database of this cluster, a copy of ``template`` (by default empty); its URL."""
        name = f"linebox_test_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def emptied_database(self) -> str:
        """The URL of one database of the session, made once by Linebox's migrations and emptied for each
        test that asks (every table truncated, every row number back to 1): quicker by far than a new
        database and its migrations for each test."""
        import psycopg2

        if not self._shared:
            from appliance.model import sealed
            from appliance.model.database import close_database, open_database

            self._shared = self.new_database()
            open_database(self._shared, sealed.KeyRing.in_memory())  # nothing to seal: the tables are empty
            close_database()
        conn = psycopg2.connect(self._shared)
        try:
            with conn, conn.cursor() as cursor:
                # DELETE, not TRUNCATE: a few rows in each of some forty tables go at once, where TRUNCATE
                # makes each table's files anew; foreign keys are not checked on the way (a superuser's
                # replica role), and every row number starts again at 1
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                               " AND tablename != 'linebox_schema_version'")
                for (name,) in cursor.fetchall():
                    cursor.execute(f'DELETE FROM "{name}"')
                cursor.execute("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'")
        finally:
            conn.close()
        return self._shared

    def drop_database(self, url: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server by its PID (immediate shutdown: nothing of it is kept) and remove its folder."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGQUIT)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and _running(self.pid):
                    time.sleep(0.05)
                if _running(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.folder, ignore_errors=True)
