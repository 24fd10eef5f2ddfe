"""Run the console under waitress: ``serve`` for the service, ``make_server`` for tests and the dev runner.

waitress is pure Python (no C build on the appliance) and its threaded
model suits a console with a handful of users.  ``make_server`` wraps the
waitress server so it can run in a background thread and be shut down
completely (listening socket, open connections and worker threads).
"""

from __future__ import annotations

import contextlib
import threading

from waitress import wasyncore
from waitress.server import create_server

THREADS = 4


class ConsoleServer:
    """A waitress server bound to ``host:port`` (port 0 picks a free one: read ``port`` after)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, threads: int = THREADS):
        self.waitress = create_server(app, host=host, port=port, threads=threads, ident="Linebox")
        self.host, self.port = self.waitress.effective_host, int(self.waitress.effective_port)
        self._map = self.waitress._map  # every socket of this server: listener, trigger, connections
        self._thread: threading.Thread | None = None
        self._runner: threading.Thread | None = None
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._shutdown_lock = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        """Serve until ``close`` is called (from another thread) or the process is interrupted.

        The sockets are closed here, in the serving thread: closing them from another thread while
        this one sits in ``select`` makes it fail with EBADF.
        """
        adj = self.waitress.adj
        self._runner = threading.current_thread()
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=adj.asyncore_loop_timeout, map=self._map, use_poll=adj.asyncore_use_poll,
                               count=1)
        finally:
            self._shutdown()
            self._done.set()

    def start(self) -> threading.Thread:
        """Serve from a daemon thread; return it."""
        self._thread = threading.Thread(target=self.run, name=f"linebox-web-{self.port}", daemon=True)
        self._runner = self._thread  # so a close() racing the thread's start still goes through run()
        self._thread.start()
        return self._thread

    def close(self, timeout: float = 5) -> None:
        """Stop listening, drop connections and worker threads; wait (up to ``timeout``) for ``run`` to return."""
        self._stopping.set()
        if self._runner is None:  # never ran: nobody else touches the sockets
            self._shutdown()
            return
        if self._runner is threading.current_thread():  # e.g. a signal handler: run() finishes the job
            return
        with contextlib.suppress(OSError):
            self.waitress.pull_trigger()  # wake the serving thread out of select
        self._done.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def _shutdown(self) -> None:
        with self._shutdown_lock:
            if self._closed:
                return
            self._closed = True
            self.waitress.task_dispatcher.shutdown()
            wasyncore.close_all(self._map)

    def __enter__(self) -> ConsoleServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_server(app, host: str = "127.0.0.1", port: int = 8080) -> ConsoleServer:
    """A server ready to ``run()`` (or ``start()`` in a thread) and ``close()``."""
    return ConsoleServer(app, host, port)


def serve(app, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the console until interrupted (the systemd unit runs this)."""
    make_server(app, host, port).run()
