"""Transcript cache and transcription checkpoints.

Transcription is the slow step, so a transcript is stored once per (audio content, model,
options) and reused by every later alignment of the same recording. While a transcription runs,
its segments so far are checkpointed (a file naming the same key), so an interrupted run (Ctrl-C,
a killed worker, a power cut) resumes from where it stopped instead of from the start.

Files live under ``<cache_dir>/transcripts/`` (``cache_dir`` from :mod:`sync.whisper_model`:
``$SHIUR_CACHE`` or ``~/.cache/shiur-sync``); a caller may keep a checkpoint elsewhere (the web
job keeps it in the recording's folder, which every worker machine shares).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import atomic
from .transcript import Segment, Transcript
from .whisper_model import cache_dir

CACHE_VERSION = 5
"""Bump when the transcript format or the transcription code changes what a cached entry means
(5: windows encoded and word-timed apart from the decoder's batch, loops re-decoded with a
repetition penalty first)."""
CHECKPOINT_VERSION = 1


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
    return atomic.write_json(cache_path(key), transcript.to_dict())


# ---- checkpoints -------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A transcription in progress: the segments decoded up to ``offset`` seconds."""

    key: str
    offset: float = 0.0
    language: str = ""
    segments: list[Segment] = field(default_factory=list)
    complete: bool = False
    transcript: Transcript | None = None
    """Set once the transcription finished (``complete``): the whole result."""


def checkpoint_path(key: str) -> Path:
    """Where a CLI transcription keeps its checkpoint (beside the cache entry it will become)."""
    return transcripts_dir() / f"{key}.partial.json"


def load_checkpoint(path: Path, key: str) -> Checkpoint | None:
    """The checkpoint at ``path`` if it belongs to ``key``; a damaged or foreign one is a miss."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("v") != CHECKPOINT_VERSION or data.get("key") != key:
            return None
        if data.get("complete"):
            t = Transcript.from_dict(data["transcript"])
            return Checkpoint(key, t.duration, t.language, t.segments, True, t)
        segs = Transcript.from_dict({"duration": 0, "segments": data["segments"]}).segments
        return Checkpoint(key, float(data["offset"]), str(data.get("language") or ""), segs)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_checkpoint(path: Path, cp: Checkpoint) -> None:
    """Replace the checkpoint at ``path``; a folder that vanished (a recording deleted while it
    was transcribed) is not created again."""
    if not Path(path).parent.is_dir():
        return
    data: dict[str, Any] = {"v": CHECKPOINT_VERSION, "key": cp.key, "complete": cp.complete}
    if cp.complete and cp.transcript is not None:
        data["transcript"] = cp.transcript.to_dict()
    else:
        data.update(offset=cp.offset, language=cp.language,
                    segments=[asdict(s) for s in cp.segments])
    # No fsync: a checkpoint lost to a power cut costs only the decoding since the previous one.
    atomic.write_json(path, data, fsync=False)


def clear_checkpoint(path: Path | None) -> None:
    if path is not None:
        Path(path).unlink(missing_ok=True)
