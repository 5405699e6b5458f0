"""Rendered HTML kept in memory and shared between requests, each entry under the exact inputs
it was rendered from.

When the link to a class is sent, its listeners open the same player page at once; rendering it
(a span per word of the discourse, the chapters list) was most of the server's work then. An entry
is used only while every input it was made from is unchanged (the recording's row, the discourse
text, the alignment file, the static files), so an edit shows on the next request; nothing
expires by time. Each server process has its own cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app, g, request, session

V = TypeVar("V")


class LRU:
    """A small thread-safe least-recently-used map. ``get_or_make`` renders outside the lock, so
    one slow render never holds up requests for other entries."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Hashable, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, name: Hashable, key: Hashable, make: Callable[[], V]) -> V:
        """The value stored for ``name`` if it was made from ``key``, else ``make()`` (stored)."""
        with self._lock:
            held = self._items.get(name)
            if held is not None and held[0] == key:
                self._items.move_to_end(name)
                return held[1]  # type: ignore[return-value]
        value = make()
        with self._lock:
            self._items[name] = (key, value)
            self._items.move_to_end(name)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def for_app(kind: str, size: int) -> LRU:
    """The current app's cache of one kind (tests make many apps; each has its own)."""
    caches: dict[str, LRU] = current_app.extensions.setdefault("shiur_page_caches", {})
    cache = caches.get(kind)
    if cache is None:
        cache = caches.setdefault(kind, LRU(size))
    return cache


def shared_page() -> bool:
    """Whether this request's page is the one every anonymous listener gets: a GET from someone
    not signed in, with no flashed message waiting (those are per browser)."""
    return request.method == "GET" and g.get("user") is None and not session.get("_flashes")


def static_stamp() -> int:
    """The newest change among the static files, whose mtimes the pages put in asset URLs."""
    folder = current_app.static_folder or ""
    try:
        with os.scandir(folder) as it:
            return max((e.stat().st_mtime_ns for e in it if e.is_file()), default=0)
    except OSError:
        return 0
