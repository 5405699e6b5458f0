"""Transcript cache: transcription is the slow step, so a transcript is stored once per
(audio content, model, options) and reused by every later alignment of the same recording.

Files live under ``<cache_dir>/transcripts/`` (``cache_dir`` from :mod:`sync.whisper_model`:
``$SHIUR_CACHE`` or ``~/.cache/shiur-sync``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .transcript import Transcript
from .whisper_model import cache_dir

CACHE_VERSION = 4
"""Bump when the transcript format or the transcription code changes what a cached entry means."""


def transcripts_dir() -> Path:
    d = cache_dir() / "transcripts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def cache_key(audio_sha256: str, model_label: str, options: dict[str, Any]) -> str:
    blob = json.dumps(
        {"v": CACHE_VERSION, "audio": audio_sha256, "model": model_label, "options": options},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def cache_path(key: str) -> Path:
    return transcripts_dir() / f"{key}.json"


def load(key: str) -> Transcript | None:
    path = cache_path(key)
    try:
        return Transcript.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        # A damaged entry is just a cache miss; it is overwritten by the next store.
        return None


def store(key: str, transcript: Transcript) -> Path:
    path = cache_path(key)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(transcript.to_dict(), f, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
