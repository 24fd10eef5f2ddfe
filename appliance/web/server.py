"""Run the console under waitress: ``serve`` for the service, ``make_server`` for tests and the dev runner.

waitress is pure Python (no C build on the appliance) and its threaded
model suits a console with a handful of users.  ``make_server`` wraps the
waitress server so it can run in a background thread and be shut down
completely (listening socket, open connections and worker threads).
"""

from __future__ import annotations

import threading

from waitress import wasyncore
from waitress.server import create_server

THREADS = 4


class ConsoleServer:
    """A waitress server bound to ``host:port`` (port 0 picks a free one: read ``port`` after)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, threads: int = THREADS):
        self.waitress = create_server(app, host=host, port=port, threads=threads, ident="Linebox")
        self.host, self.port = self.waitress.effective_host, int(self.waitress.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        """Serve until ``close`` is called (from another thread) or the process is interrupted."""
        self.waitress.run()

    def start(self) -> threading.Thread:
        """Serve from a daemon thread; return it."""
        self._thread = threading.Thread(target=self.run, name=f"linebox-web-{self.port}", daemon=True)
        self._thread.start()
        return self._thread

    def close(self, timeout: float = 5) -> None:
        """Stop listening, drop connections, stop the worker threads, and wait for ``run`` to return."""
        self.waitress.task_dispatcher.shutdown()
        self.waitress.close()
        wasyncore.close_all(self.waitress._map)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

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
