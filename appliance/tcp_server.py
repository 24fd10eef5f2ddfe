"""A threading TCP server that serves in a background thread: the FastAGI and AudioSocket services' common
plumbing (start, whether it still serves, its address, and a stop that waits for the thread)."""

from __future__ import annotations

import socket
import socketserver
import threading


class BackgroundTcpServer(socketserver.ThreadingTCPServer):
    """Listens on ``address``:``port`` and serves in a thread of its own (``start``); ``close`` stops it
    and waits for it.  ``thread_name`` names that thread in the service's stack dumps."""

    daemon_threads = True
    allow_reuse_address = True
    thread_name = "tcp-server"

    def __init__(self, address: str, port: int, handler: type[socketserver.BaseRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self._thread: threading.Thread | None = None
        super().__init__((address, port), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def address(self) -> str:
        return str(self.server_address[0])  # (host, port): typeshed's type covers every family

    def start(self) -> BackgroundTcpServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.5},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    @property
    def serving(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(10)
        self.server_close()
