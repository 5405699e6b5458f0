"""Response headers every page gets, and the one test for a same-site redirect target.

The Content-Security-Policy allows scripts from this site only (no inline code, no inline
handlers), so an injected ``<script>`` or ``onerror=`` never runs; templates pass data to the
static scripts through ``data-*`` attributes or ``<script type="application/json">`` blocks
(not executed, so the policy allows them). ``register(app)`` is called once from ``create_app``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask
from werkzeug.serving import WSGIRequestHandler

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # Templates carry no style attributes; scripts set element.style, which CSP does not govern.
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Older browsers ignore frame-ancestors; this says the same to them.
    "X-Frame-Options": "DENY",
}
SERVER_BANNER = "shiur-sync"
"""What the built-in server calls itself instead of ``Werkzeug/3.x Python/3.x``: no versions
for a scanner to match against advisories. (waitress says just ``waitress``.)"""


def register(app: Flask) -> None:
    app.after_request(_add_headers)


def _add_headers(resp: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    # The server writes the Server header itself (see NoBannerRequestHandler); one from the
    # app would only be a second one beside it.
    resp.headers.pop("Server", None)
    return resp


class NoBannerRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without the version banner (``app.run(request_handler=...)``)."""

    def version_string(self) -> str:
        return SERVER_BANNER


_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``.

    Browsers drop tabs and newlines inside URLs and read ``\\`` as ``/``, so ``/\\t/evil.example``
    and ``/\\evil.example`` both mean ``//evil.example``; the test is made on what the browser
    would see, after percent-decoding as well (a proxy may decode once more).
    """
    if not target:
        return default
    seen = target
    for _ in range(3):
        decoded = unquote(seen)
        if decoded == seen:
            break
        seen = decoded
    for candidate in (target, seen):
        cleaned = _CONTROL.sub("", candidate).replace("\\", "/")
        if not cleaned.startswith("/") or cleaned.startswith("//"):
            return default
        parts = urlsplit(cleaned)
        if parts.scheme or parts.netloc:
            return default
    if _CONTROL.search(target) or "\\" in target:
        return default
    return target
