"""HTTP requests Linebox itself makes to the company's own servers (the CRM lookup, webhooks), with the
standard library only: the box ships no HTTP client library.

Redirects are never followed (a 3xx is an answer like any other: the admin gave the address to use), no
proxy from the environment is used, and every read has a timeout; ``send`` also stops reading after
``max_bytes`` or when ``deadline`` seconds have passed since it started, so an answer that trickles in or
never ends costs a bounded time and memory.  Errors are answers, not exceptions: the callers log them in
their own terms (the pop, the delivery log).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int  # the HTTP status; 0 when no answer came
    body: bytes = b""
    error: str = ""  # "" when an HTTP answer came (whatever its status); "timed out", "too large", ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status: answered, not followed


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def send(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 5.0, max_bytes: int = 1 << 20, deadline: float | None = None) -> Answer:
    """One request; the answer's status and up to ``max_bytes`` + 1 bytes of its body (more means too large)."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, data = response.status, b""
            while len(data) <= max_bytes:
                if deadline is not None and time.monotonic() - started > deadline:
                    return Answer(status, data, "timed out")
                chunk = response.read(4096)
                if not chunk:
                    break
                data += chunk
            return Answer(status, data, "too large" if len(data) > max_bytes else "")
    except urllib.error.HTTPError as error:
        return Answer(error.code)
    except TimeoutError:
        return Answer(0, error="timed out")
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            return Answer(0, error="timed out")
        return Answer(0, error=f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException)
                      else str(reason))
    except (OSError, ValueError) as error:  # a reset connection, a malformed answer or address
        return Answer(0, error=f"{type(error).__name__}: {error}")


__all__ = ["Answer", "send"]
