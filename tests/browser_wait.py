"""Waiting for a condition in a page that runs under the site's CSP.

Playwright's ``page.wait_for_function`` compiles its predicate with ``eval`` inside the page
once it has to poll, and ``script-src 'self'`` (no 'unsafe-eval') forbids that; evaluating
from the test side (DevTools protocol) is not subject to the page's policy.
"""

from __future__ import annotations

import time
from typing import Any

POLL_S = 0.05


def wait_js(page: Any, expression: str, arg: Any = None, timeout: float = 30_000) -> bool:
    """Evaluate ``expression`` (or the function with ``arg``) until it is truthy; like
    ``wait_for_function``, ``timeout`` is in milliseconds."""
    deadline = time.monotonic() + timeout / 1000
    # Only the truth value comes back: a DOM or TextTrackCue object would arrive as an empty dict.
    check = f"(a) => !!(({expression})(a))" if arg is not None else f"() => !!({expression})"
    while True:
        if page.evaluate(check, arg):
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout / 1000:g} s waiting for {expression}")
        time.sleep(POLL_S)
