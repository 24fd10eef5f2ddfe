"""What a full apply computes per site object, kept from one apply to the next while the object is unchanged.

A snapshot gives a row stored the same as last time as the same (read-only) object
(:func:`appliance.site.queries.snapshot`), so a value computed from an object (its rows in the projection, its
fingerprint in the list verify reads) holds as long as the object is the one it was computed from.  On a
10,000-extension site an apply after one change then computes one extension's values, not 10,000.  Only the
values of the last pass are kept: memory follows the site, not the number of applies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any


class PerObject:
    """Values computed from objects, keyed by the object itself (its identity) and the other inputs."""

    def __init__(self) -> None:
        self._kept: dict[tuple, tuple[object, Any]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def round(self) -> Iterator[Callable[..., Any]]:
        """One pass over a site: ``value(obj, compute, *inputs)`` gives ``compute(obj)``, reused from the last
        pass when ``obj`` is the same object and the inputs are equal; at the end only this pass's are kept."""
        with self._lock:
            old = self._kept
        new: dict[tuple, tuple[object, Any]] = {}

        def value(obj: object, compute: Callable[[Any], Any], *inputs: Hashable) -> Any:
            key = (id(obj), *inputs)
            hit = new.get(key) or old.get(key)
            # the object is kept alive by its entry, so its id is not reused for another one meanwhile
            found = hit[1] if hit is not None and hit[0] is obj else compute(obj)
            new[key] = (obj, found)
            return found
        yield value
        with self._lock:
            self._kept = new
