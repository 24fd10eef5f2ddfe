"""Run the console under cheroot: ``make_server`` for the service, the tests and the dev runner.

cheroot (the CherryPy project's WSGI server) is pure Python, threaded, and
speaks TLS through the standard library's ``ssl`` module, so the appliance
serves HTTPS itself with no C build and no reverse proxy.  Two things are
changed from cheroot's defaults, both so that one client cannot stall the
console for everyone:

* a new connection waits in cheroot's selector until its first bytes arrive,
  instead of taking a worker thread at once (a client that connects and says
  nothing costs a file descriptor until ``TIMEOUT``, not a thread);
* the TLS handshake runs in the worker thread on the first read, not in the
  accept loop (cheroot 11 handshakes in the accept loop: one silent client
  there freezes the whole server, cherrypy/cheroot#748).

``ConsoleServer`` can run in a background thread and be shut down completely
(listening socket, open connections and worker threads).  ``check()`` sends a
real request through the whole stack (accept loop, TLS, a worker thread) to
``ALIVE_PATH``, which is answered before the app: the service's watchdog
uses it.

``make_redirect_server`` is the optional plain-HTTP listener next to the
HTTPS one: every request gets a 301 to the same path on the HTTPS port, so
someone who types the box's address without ``https://`` still lands on the
console (and, after the first visit, the console's HSTS header makes the
browser go to HTTPS by itself).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cheroot import errors as cheroot_errors
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

if TYPE_CHECKING:
    from cheroot.connections import ConnectionManager

THREADS = 4
TIMEOUT = 10  # seconds a connection may stay silent, and the bound on one TLS handshake
ALIVE_PATH = "/-/alive"
SOFTWARE = "Linebox"

log = logging.getLogger(__name__)


_PLAIN_HTTP_MESSAGE = b"This console speaks HTTPS only: use https:// in the address.\n"
_PLAIN_HTTP_ANSWER = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(_PLAIN_HTTP_MESSAGE), _PLAIN_HTTP_MESSAGE))


class _LazyHandshakeSocket(ssl.SSLSocket):
    """A server-side TLS socket that handshakes on its first read (in the worker thread that reads it)."""

    _handshake_done = False

    def _handshake_first(self) -> None:
        if self._handshake_done:
            return
        try:
            self.do_handshake()
        except ssl.SSLError as error:
            if "http request" in str(error).lower():  # plain HTTP sent to the HTTPS port: say so, in plain HTTP
                with contextlib.suppress(OSError):
                    socket.socket.sendall(self, _PLAIN_HTTP_ANSWER)
            raise cheroot_errors.FatalSSLAlert(*error.args) from error
        except OSError as error:  # reset, timeout: the client went away during the handshake
            raise cheroot_errors.FatalSSLAlert(*error.args) from error
        self._handshake_done = True

    def recv_into(self, buffer, nbytes=None, flags=0):
        self._handshake_first()
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen=1024, flags=0):
        self._handshake_first()
        return super().recv(buflen, flags)


class _TlsAdapter(BuiltinSSLAdapter):
    """cheroot's builtin adapter, with the handshake moved out of the accept loop."""

    def __init__(self, certificate: Path, private_key: Path):
        super().__init__(str(certificate), str(private_key))
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.sslsocket_class = _LazyHandshakeSocket

    def wrap(self, sock):
        tls = self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True)
        return tls, {"wsgi.url_scheme": "https", "HTTPS": "on"}


class _Server(wsgi.Server):
    """cheroot's server: new connections wait for data in the selector; errors go to ``logging``."""

    _unservable_thread: threading.Thread | None = None
    # cheroot's own private members used here (its stubs leave them out): declared, not set
    _connections: ConnectionManager
    _serve_unservicable: Callable[[], None]

    def serve(self) -> None:
        """cheroot's loop, with its helper thread (503 answers when the queue is full) named and kept to join."""
        self._unservable_thread = threading.Thread(target=self._serve_unservicable, name="linebox-web-503",
                                                   daemon=True)
        self._unservable_thread.start()
        while self.ready:
            try:
                self._connections.run(self.expiration_interval)
            except Exception:
                self.error_log("error in the serving loop", level=logging.ERROR, traceback=True)

    def process_conn(self, conn) -> None:
        if not getattr(conn, "_linebox_waited", False):
            conn._linebox_waited = True
            self._connections.put(conn)  # back to process_conn once readable, or expired after TIMEOUT
            return
        super().process_conn(conn)

    def error_log(self, msg="", level=logging.INFO, traceback=False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)


def _wrap(app):
    """Answer ``ALIVE_PATH`` before the app; name the server ``Linebox`` (no version) in every response."""
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            if not any(name.lower() == "server" for name, _ in headers):
                headers = [*headers, ("Server", SOFTWARE)]
            return start_response(status, headers, exc_info)
        if environ.get("PATH_INFO") == ALIVE_PATH:
            start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6"), ("Cache-Control", "no-store")])
            return [b"alive\n"]
        return app(environ, start)
    return wrapped


class ConsoleServer:
    """A cheroot server bound to ``host:port`` (port 0 picks a free one: read ``port`` after).

    With ``certificate`` and ``private_key`` (PEM files) it serves HTTPS only.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8080, threads: int = THREADS,
                 certificate: Path | None = None, private_key: Path | None = None):
        self.cheroot = _Server((host, port), _wrap(app), numthreads=threads, timeout=TIMEOUT, shutdown_timeout=5)
        # the app's stop signal (a Flask app from create_app has one): its event streams end when we stop
        self._stopping = getattr(app, "extensions", {}).get("linebox.stopping")
        self.tls = certificate is not None
        if certificate is not None:
            if private_key is None:
                raise ValueError("HTTPS needs the certificate's private key")
            self.cheroot.ssl_adapter = _TlsAdapter(certificate, private_key)
        self.cheroot.prepare()  # binds and listens now, so the port is known and taken
        self.host, self.port = self.cheroot.bind_addr[0], int(self.cheroot.bind_addr[1])
        self._thread: threading.Thread | None = None
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def run(self) -> None:
        """Serve until ``close`` is called (from another thread)."""
        if self._thread is None:
            self._thread = threading.current_thread()
        if not self._closed:
            self.cheroot.serve()

    def start(self) -> threading.Thread:
        """Serve from a daemon thread; return it."""
        self._thread = threading.Thread(target=self.run, name=f"linebox-web-{self.port}", daemon=True)
        self._thread.start()
        return self._thread

    @property
    def serving(self) -> bool:
        return bool(self.cheroot.ready) and self._thread is not None and self._thread.is_alive()

    def _local_host(self) -> str:
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    def check(self, timeout: float = 5) -> bool:
        """Whether a request to ``ALIVE_PATH`` gets its answer within ``timeout`` seconds."""
        host = self._local_host()
        request = f"GET {ALIVE_PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        try:
            with socket.create_connection((host, self.port), timeout=timeout) as raw:
                conn: socket.socket = raw
                if self.tls:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE  # our own listener: only liveness is checked
                    conn = context.wrap_socket(raw, server_hostname="localhost")
                conn.sendall(request)
                answer = b""
                while chunk := conn.recv(4096):
                    answer += chunk
                return answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nalive\n")
        except OSError:
            return False

    def close(self, timeout: float = 5) -> None:
        """Stop listening, drop connections and worker threads; wait (up to ``timeout``) for ``run`` to return."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self._stopping is not None:
            self._stopping.set()
        connections = getattr(self.cheroot, "_connections", None)
        if connections is not None and self.serving:
            # cheroot's loop notices a stop only when its select() returns (every 0.5 s): wake it now
            connections._stop_requested = True
            with contextlib.suppress(OSError), socket.create_connection((self._local_host(), self.port), timeout=1):
                pass
        self.cheroot.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self.cheroot._unservable_thread is not None:
            self.cheroot._unservable_thread.join(timeout)

    def __enter__(self) -> ConsoleServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_server(app, host: str = "127.0.0.1", port: int = 8080, *, certificate: Path | None = None,
                private_key: Path | None = None) -> ConsoleServer:
    """A server bound now, ready to ``run()`` (or ``start()`` in a thread) and ``close()``."""
    return ConsoleServer(app, host, port, certificate=certificate, private_key=private_key)


_TARGET_RE = re.compile(r"^[\x21-\x7e]{1,4000}$")  # printable ASCII, no space: cannot split a header
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?$")


def redirect_app(https_port: int, fallback_host: str):
    """A WSGI app answering every request with a 301 to the same path and query on ``https_port``.

    The host is the one the browser asked for (without its port); a Host header that is not a plain
    host name or address is not echoed into the Location header: ``fallback_host`` is used instead.
    """
    def app(environ, start_response):
        match = _HOST_RE.match(environ.get("HTTP_HOST", ""))
        host = match.group(1) if match else fallback_host
        # the request target exactly as sent (path and query, still %-encoded); anything odd becomes "/"
        path = environ.get("REQUEST_URI", "/")
        if not path.startswith("/") or path.startswith("//") or not _TARGET_RE.match(path):
            path = "/"
        target = f"https://{host}{'' if https_port == 443 else f':{https_port}'}{path}"
        body = f"The console is at {target}\n".encode()
        start_response("301 Moved Permanently", [
            ("Location", target), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
        return [body]
    return app


def make_redirect_server(https_port: int, host: str = "127.0.0.1", port: int = 80) -> ConsoleServer:
    """A plain-HTTP server (bound now) that sends every request to the HTTPS console on ``https_port``."""
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    fallback = f"[{local}]" if ":" in local else local
    return ConsoleServer(redirect_app(https_port, fallback), host, port, threads=2)


__all__ = ["ALIVE_PATH", "ConsoleServer", "make_redirect_server", "make_server", "redirect_app"]
