"""Upload parts on disk, held to the size limit while they stream in.

Werkzeug's own limit (``MAX_CONTENT_LENGTH``) is checked against the Content-Length header,
and a chunked request has none: its body was read to the whole-request cap before anything
said no. Here every file part counts its bytes as they are written and stops at the audio
limit, so at most one chunk over the limit ever reaches the disk. Part files are registered on
the request and removed when it ends, whatever way it ends (refused, aborted by the client,
failed validation); a finished upload is hard-linked into the library before that.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app, g
from werkzeug.exceptions import RequestEntityTooLarge

PART_PREFIX = "up-"
PART_SUFFIX = ".part"


class LimitedPart:
    """A temp file in the uploads folder that refuses to grow past ``limit`` bytes."""

    def __init__(self, folder: Path, limit: int):
        folder.mkdir(parents=True, exist_ok=True)
        self._f = tempfile.NamedTemporaryFile(dir=folder, prefix=PART_PREFIX, suffix=PART_SUFFIX)  # noqa: SIM115
        self.name = self._f.name
        self.limit = limit
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > self.limit:
            self.close()  # the partial file goes now, not when the request is torn down
            raise RequestEntityTooLarge()
        return self._f.write(data)

    def close(self) -> None:
        self._f.close()  # NamedTemporaryFile removes its file on close

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __iter__(self) -> Any:
        return iter(self._f)


def open_part(folder: Path) -> IO[bytes]:
    """A part file for the request being parsed; it is closed (and removed) with the request."""
    part = LimitedPart(folder, int(current_app.config["MAX_UPLOAD_BYTES"]))
    g.setdefault("upload_parts", []).append(part)
    return part  # type: ignore[return-value]


def _close_parts(_exc: BaseException | None = None) -> None:
    for part in g.pop("upload_parts", []):
        try:
            part.close()
        except OSError:
            pass


def register(app: Flask) -> None:
    app.teardown_request(_close_parts)
