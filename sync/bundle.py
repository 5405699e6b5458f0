"""A zip bundle of one recording: the audio, every export and a metadata file, for archiving.

The zip is written to a temporary name beside the destination and renamed into place, so a
crash never leaves a truncated bundle that looks complete.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__, atomic
from .alignment import Alignment
from .discourse import Discourse
from .errors import ShiurError
from .transcript import Transcript
from .writers import CueText, SyncResult, WritePassagesVTTAs, WriteSRT, get_writer

# Compressed audio does not shrink further; storing it saves CPU on large collections.
_STORED_SUFFIXES = {".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".mp4", ".flac", ".zip"}

METADATA_NAME = "metadata.json"


def write_bundle(dest: str | Path, members: Mapping[str, str | bytes | Path], metadata: Mapping[str, Any]) -> Path:
    """Write ``dest`` (a .zip) holding ``members`` (archive name -> file path, text or bytes) and metadata.

    ``metadata`` is stored as ``metadata.json`` with a ``files`` list naming what the bundle holds.
    """
    dest = Path(dest)
    tmp = atomic.temp_path_for(dest)
    names = sorted(members)
    meta = dict(metadata)
    meta["files"] = names
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in names:
                src = members[name]
                compress = zipfile.ZIP_STORED if Path(name).suffix.lower() in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
                if isinstance(src, Path):
                    zf.write(src, arcname=name, compress_type=compress)
                elif isinstance(src, bytes):
                    zf.writestr(name, src, compress_type=compress)
                else:
                    zf.writestr(name, src.encode("utf-8"), compress_type=compress)
            zf.writestr(METADATA_NAME, json.dumps(meta, ensure_ascii=False, indent=1, default=str))
        atomic.commit(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# --- a recording's exports ----------------------------------------------------------------

EXPORT_FORMATS: dict[str, str] = {
    "vtt": "passages.vtt",
    "chapters": "paragraphs.vtt",
    "srt": "passages.srt",
    "json": "full.json",
    "txt": "transcript.txt",
    "bundle": "bundle.zip",
}
"""Export format name (CLI / URL) -> file written. The bundle holds all the others plus the audio."""

BUNDLE_FILES = ("passages.vtt", "paragraphs.vtt", "passages.srt", "full.json", "alignment.json", "transcript.json",
                "transcript.txt")  # fmt: skip


def parse_formats(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"vtt,srt"`` or a list -> validated names; ``all`` means every format."""
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if "all" in names:
        return tuple(EXPORT_FORMATS)
    bad = [n for n in names if n not in EXPORT_FORMATS]
    if bad:
        raise ShiurError(f"unknown export format {bad[0]!r}; choose from {', '.join(EXPORT_FORMATS)} or all")
    return tuple(dict.fromkeys(names))


def load_result(folder: str | Path, discourse: Discourse) -> SyncResult:
    """Rebuild a :class:`SyncResult` from a sync output folder and its discourse."""
    folder = Path(folder)
    path = folder / "alignment.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShiurError(f"{folder}: no alignment.json (the recording is not synced yet)") from None
    except ValueError as e:
        raise ShiurError(f"{path}: damaged JSON ({e})") from None
    alignment = Alignment.from_dict(data)
    missing = sorted({c.passage_id for c in alignment.cues} - {p.id for p in discourse.passages()})
    if missing:
        raise ShiurError(f"{path}: cues name passages the text does not have ({', '.join(missing[:5])})")
    transcript = Transcript.load(folder / "transcript.json") if (folder / "transcript.json").is_file() else None
    meta = dict(data.get("meta", {}))
    return SyncResult(discourse, alignment, transcript, meta)


def export_result(
    result: SyncResult,
    dest: str | Path,
    formats: Sequence[str],
    cue_text: CueText | str | None = None,
    audio: str | Path | None = None,
    metadata: Mapping[str, Any] | None = None,
    bundle_name: str = "bundle.zip",
) -> list[Path]:
    """Write the chosen formats into ``dest``; returns the files written."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    formats = parse_formats(formats)
    for fmt in formats:
        if fmt == "bundle":
            continue
        out.append(_write_one(result, EXPORT_FORMATS[fmt], dest, cue_text))
    if "bundle" in formats:
        out.append(write_result_bundle(result, dest / bundle_name, audio, metadata, cue_text))
    return out


def _write_one(result: SyncResult, name: str, dest: Path, cue_text: CueText | str | None) -> Path:
    if name == "transcript.txt" and result.transcript is None:
        raise ShiurError("no transcript for this recording (it was aligned from imported cues)")
    if name == "passages.vtt":
        return WritePassagesVTTAs(dest, cue_text)(result)
    if name == "passages.srt":
        return WriteSRT(dest, cue_text)(result)
    return get_writer(name, dest)(result)


def write_result_bundle(
    result: SyncResult,
    dest: str | Path,
    audio: str | Path | None = None,
    metadata: Mapping[str, Any] | None = None,
    cue_text: CueText | str | None = None,
) -> Path:
    """A zip of the audio, every export and ``metadata.json`` (recording metadata + provenance)."""
    with tempfile.TemporaryDirectory(prefix="shiur-bundle-") as tmp:
        members: dict[str, str | bytes | Path] = {}
        for name in BUNDLE_FILES:
            if name in ("transcript.json", "transcript.txt") and result.transcript is None:
                continue
            members[name] = _write_one(result, name, Path(tmp), cue_text)
        if audio is not None and Path(audio).is_file():
            members[f"audio{Path(audio).suffix.lower()}"] = Path(audio)
        meta = {
            **(metadata or {}),
            "software": f"shiur-sync {__version__}",
            "provenance": {k: result.meta[k] for k in ("model", "options", "language", "software") if k in result.meta},
            "cue_text": str(CueText.parse(cue_text)),
            "passages": len(result.discourse.passages()),
            "cues": len(result.alignment.cues),
            "skipped": list(result.alignment.skipped),
        }
        return write_bundle(dest, members, meta)
