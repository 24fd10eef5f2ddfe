"""The company's CRM in the agent's pop: a lookup of the caller by number, and an "open in CRM" link.

Both are off while their setting is empty (``crm_lookup_url``, ``crm_open_url``): then no request leaves the
box.  The caller's number is percent-quoted into the template's ``{number}``.

The lookup never touches the call: the console asks it after the pop has gone to the agent's page, on a
thread of its own, and sends its answer as a later message of the same stream (``agent_stream``).  A CRM
that is slow or down costs the agent nothing but the missing name: each lookup is given ``TIMEOUT_SECONDS``
in all, and answers (a failure too, for less long) are kept in a small cache, so a caller who rings again
costs the CRM nothing and a dead CRM is not asked on every call.

The CRM's answer is untrusted: at most ``MAX_BYTES`` are read, only the strings ``name``, ``company`` and
``link`` of a JSON object are kept (one line each, cut to ``MAX_TEXT``), a link only when it is http(s), and
the page writes them as text.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable

from appliance.callcenter import outbound_http

TIMEOUT_SECONDS = 4.0  # the whole lookup, connection to last byte
CACHE_SECONDS = 300.0  # how long an answer is reused
FAILED_CACHE_SECONDS = 30.0  # how long a failed lookup is not tried again for the same number
CACHE_SIZE = 1000
MAX_BYTES = 16 * 1024
MAX_TEXT = 200
FIELDS = ("name", "company", "link")

_cache: OrderedDict[str, tuple[float, dict]] = OrderedDict()
_lock = threading.Lock()


def fill(template: str, number: str) -> str:
    """``template`` with the caller's number percent-quoted in place of ``{number}``."""
    return template.replace("{number}", urllib.parse.quote(number, safe=""))


def _text(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return "".join(ch if ch.isprintable() else " " for ch in value).strip()[:MAX_TEXT]


def _http(link: str) -> str:
    parts = urllib.parse.urlsplit(link)
    return link if parts.scheme in ("http", "https") and parts.hostname else ""


def parse(body: bytes) -> dict:
    """What the pop shows of a CRM's answer: name, company and an http(s) link, each "" when missing."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"found": False, "error": "not JSON"}
    if not isinstance(data, dict):
        return {"found": False, "error": "not a JSON object"}
    out = {key: _text(data.get(key)) for key in FIELDS}
    out["link"] = _http(out["link"])
    return {**out, "found": bool(out["name"] or out["company"])}


Get = Callable[..., outbound_http.Answer]


def _fetch(url: str, get: Get) -> dict:
    answer = get("GET", url, headers={"Accept": "application/json", "User-Agent": "Linebox-CRM/1"},
                 timeout=TIMEOUT_SECONDS, max_bytes=MAX_BYTES, deadline=TIMEOUT_SECONDS)
    if answer.error == "timed out":
        return {"found": False, "error": "timed out"}
    if answer.error == "too large":
        return {"found": False, "error": "answer too large"}
    if answer.error:
        return {"found": False, "error": answer.error.split(":", 1)[0]}
    if answer.status == 404:
        return {"found": False}
    if answer.status != 200:
        return {"found": False, "error": f"HTTP {answer.status}"}
    return parse(answer.body)


def lookup(template: str, number: str, get: Get = outbound_http.send,
           now: Callable[[], float] = time.monotonic) -> dict | None:
    """The CRM's answer for ``number`` (cached), or None when no lookup is configured or no number is known."""
    if not template or not number:
        return None
    url = fill(template, number)
    with _lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] > now():
            return cached[1]
    answer = _fetch(url, get)
    keep = FAILED_CACHE_SECONDS if answer.get("error") else CACHE_SECONDS
    with _lock:
        _cache[url] = (now() + keep, answer)
        _cache.move_to_end(url)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return answer
