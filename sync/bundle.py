"""A zip bundle of one recording: the audio, every export and a metadata file, for archiving.

The zip is written to a temporary name beside the destination and renamed into place, so a
crash never leaves a truncated bundle that looks complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, atomic
from .alignment import Alignment
from .audio import EXTENSIONS
from .discourse import Discourse
from .errors import ShiurError
from .transcript import Transcript
from .writers import (
    CueText,
    ResultWriter,
    SyncResult,
    WriteFullJSON,
    WriteParagraphsVTT,
    WritePassagesVTTAs,
    WriteSRT,
    WriteTXT,
    get_writer,
)

# Compressed audio does not shrink further; storing it saves CPU on large collections. (WAV does.)
_STORED_SUFFIXES = {*EXTENSIONS, ".zip"} - {".wav"}

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


# --- a recording's exports: the one registry of formats ------------------------------------


@dataclass(frozen=True)
class ExportFormat:
    """One export: its name on the command line and in URLs, the file it writes, how to write it.

    As in openai/whisper's ``get_writer``: one writer class per format (``sync.writers``), and
    this registry is the one place a format is named, labelled and typed. The downloads page,
    ``shiur export`` and ``shiur batch --formats`` all list what is registered here.
    """

    name: str
    filename: str
    """File written; downloads are named ``<slug>-<filename>``."""
    mimetype: str
    label_he: str
    label_en: str
    writer: Callable[[Path, CueText], ResultWriter] | None = None
    """None for the two that are not rendered from the result: the audio and the bundle."""
    cue_text: bool = False
    """Follows the cue-text option (what each passage cue shows)."""
    needs_transcript: bool = False
    in_all: bool = True
    """Part of ``all``. The audio is not: the bundle already holds it."""


EXPORTS: dict[str, ExportFormat] = {}


def register_export(fmt: ExportFormat) -> ExportFormat:
    EXPORTS[fmt.name] = fmt
    return fmt


register_export(ExportFormat("vtt", "passages.vtt", "text/vtt", "כתוביות לפי קטעים (WebVTT)", "Passages, WebVTT",
                             lambda d, ct: WritePassagesVTTAs(d, ct), cue_text=True))
register_export(ExportFormat("chapters", "paragraphs.vtt", "text/vtt", "פרקים לפי פסקאות (WebVTT)",
                             "Paragraph chapters, WebVTT", lambda d, ct: WriteParagraphsVTT(d)))
register_export(ExportFormat("srt", "passages.srt", "application/x-subrip", "כתוביות SRT", "Passages, SubRip SRT",
                             lambda d, ct: WriteSRT(d, ct), cue_text=True))
register_export(ExportFormat("json", "full.json", "application/json", "JSON מלא: קטעים, מילים, ביטחון, מקור",
                             "Full JSON: passages, words, confidence, provenance", lambda d, ct: WriteFullJSON(d)))
register_export(ExportFormat("txt", "transcript.txt", "text/plain", "תמלול גולמי", "Plain transcript",
                             lambda d, ct: WriteTXT(d), needs_transcript=True))
register_export(ExportFormat("audio", "audio", "", "ההקלטה בלבד (הקובץ המקורי)", "Audio only (the original file)",
                             in_all=False))
register_export(ExportFormat("bundle", "bundle.zip", "application/zip", "חבילת ZIP: שמע, כל הקבצים ומטא-נתונים",
                             "ZIP bundle: audio, every file, metadata", cue_text=True))

BUNDLE_RAW_FILES = ("alignment.json", "transcript.json")
"""The library's own files, kept in a bundle beside the exports so it can be imported again."""


def bundle_files() -> tuple[str, ...]:
    """What a bundle holds besides the audio and metadata.json: every rendered export and the raw files."""
    rendered = [f.filename for f in EXPORTS.values() if f.writer is not None]
    return (*rendered, *BUNDLE_RAW_FILES)


def audio_filename(audio: str | Path) -> str:
    """The audio's name in an export: ``audio.<its extension>``."""
    return f"audio{Path(audio).suffix.lower()}"


def parse_formats(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"vtt,srt"`` or a list -> validated names; ``all`` means every format but the audio alone."""
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if "all" in names:
        return tuple(n for n, f in EXPORTS.items() if f.in_all)
    bad = [n for n in names if n not in EXPORTS]
    if bad:
        raise ShiurError(f"unknown export format {bad[0]!r}; choose from {', '.join(EXPORTS)} or all")
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
    for name in formats:
        if name == "bundle":
            continue
        if name == "audio":
            out.append(_copy_audio(audio, dest))
        else:
            out.append(_write_one(result, name, dest, cue_text))
    if "bundle" in formats:
        out.append(write_result_bundle(result, dest / bundle_name, audio, metadata, cue_text))
    return out


def _copy_audio(audio: str | Path | None, dest: Path) -> Path:
    if audio is None or not Path(audio).is_file():
        raise ShiurError("the recording's audio file is missing, so there is no audio to export")
    target = dest / audio_filename(audio)
    shutil.copyfile(audio, target)
    return target


def _write_one(result: SyncResult, name: str, dest: Path, cue_text: CueText | str | None) -> Path:
    """Render one registered format (by name) or one of the raw files (by file name)."""
    fmt = EXPORTS.get(name) or next((f for f in EXPORTS.values() if f.filename == name), None)
    if fmt is not None and fmt.needs_transcript and result.transcript is None:
        raise ShiurError("no transcript for this recording (it was aligned from imported cues)")
    if fmt is not None and fmt.writer is not None:
        return fmt.writer(dest, CueText.parse(cue_text))(result)
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
        for name in bundle_files():
            if name in ("transcript.json", "transcript.txt") and result.transcript is None:
                continue
            members[name] = _write_one(result, name, Path(tmp), cue_text)
        if audio is not None and Path(audio).is_file():
            members[audio_filename(audio)] = Path(audio)
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
