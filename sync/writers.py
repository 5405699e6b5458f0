"""Output files of a sync run, one small writer class per format.

In the style of openai/whisper's ``utils.py``: a :class:`ResultWriter` base with
``write_result``, and subclasses per format. Add a format by subclassing and listing it in
``WRITERS``.

A result is several files that must agree (the VTTs are rendered from alignment.json), so
:func:`write_outputs` writes them as one unit: under a lock on the output folder, every file
goes to a temp name first; then a journal listing them is written atomically (the commit
point); then they are renamed into place and the journal removed. A crash before the journal
leaves the old files and only temp files (removed on the next write); a crash after it is
completed by the next writer or by :func:`recover`. Two writers into one folder take turns, so
their files never mix. A caller with its own commit point (a database transaction) passes
``commit`` and a ``decide`` to :func:`recover` that tells whether that commit happened.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import webvtt

from . import __version__, atomic
from .alignment import Alignment, Cue, cue_ids
from .discourse import Discourse, Paragraph
from .errors import ShiurError
from .hebrew import strip_bidi_controls
from .transcript import Transcript

CHAPTER_WORDS = 6
"""How many words of a paragraph's opening its chapter cue shows."""


@dataclass
class SyncResult:
    """Everything a sync run produced; writers render parts of it."""

    discourse: Discourse
    alignment: Alignment
    transcript: Transcript | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Provenance: model, options, software version, input names, timings."""


def timestamp(seconds: float) -> str:
    """WebVTT timestamp HH:MM:SS.mmm."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def ordered_cues(alignment: Alignment) -> list[Cue]:
    """Cues in time order (ties keep the aligner's order), the order every file uses."""
    return sorted(alignment.cues, key=lambda c: c.start)


@dataclass
class ParagraphRun:
    """Consecutive cues of one paragraph: a chapter."""

    paragraph_id: str
    start: float
    end: float
    cues: list[Cue]


def paragraph_runs(alignment: Alignment) -> list[ParagraphRun]:
    runs: list[ParagraphRun] = []
    for c in ordered_cues(alignment):
        if runs and runs[-1].paragraph_id == c.paragraph_id:
            runs[-1].end = max(runs[-1].end, c.end)
            runs[-1].cues.append(c)
        else:
            runs.append(ParagraphRun(c.paragraph_id, c.start, c.end, [c]))
    return runs


def run_ids(runs: list[ParagraphRun]) -> list[str]:
    """``p3`` for a paragraph's first run, ``p3.r2`` when the lecturer comes back to it."""
    seen: dict[str, int] = {}
    out = []
    for r in runs:
        n = seen[r.paragraph_id] = seen.get(r.paragraph_id, 0) + 1
        out.append(r.paragraph_id if n == 1 else f"{r.paragraph_id}.r{n}")
    return out


def chapter_title(paragraph: Paragraph, words: int = CHAPTER_WORDS) -> str:
    """Section letter or paragraph number, then the paragraph's first words."""
    tokens = [t for p in paragraph.passages for t in p.tokens]
    label = f"{paragraph.number}."
    if paragraph.section and tokens and tokens[0] == f"{paragraph.section})":
        label = f"{paragraph.section})"
        tokens = tokens[1:]
    head = " ".join(tokens[:words])
    more = "…" if len(tokens) > words else ""
    return f"{label} {head}{more}".strip()


class ResultWriter:
    extension: str = ""
    filename: str = ""

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)

    def path(self) -> Path:
        return self.output_dir / self.filename

    def __call__(self, result: SyncResult) -> Path:
        """Write this one file atomically (a set of files: :func:`write_outputs`)."""
        target = self.path()
        with atomic.atomic_open(target, "w") as f:
            self.write_result(result, file=f)
        return target

    def write_to(self, result: SyncResult, path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            self.write_result(result, file=f)
            f.flush()
            os.fsync(f.fileno())

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        raise NotImplementedError


class WriteVTT(ResultWriter):
    extension = "vtt"

    def captions(self, result: SyncResult) -> Iterable[webvtt.Caption]:
        raise NotImplementedError

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        vtt = webvtt.WebVTT(captions=list(self.captions(result)))
        vtt.write(file)


class WritePassagesVTT(WriteVTT):
    """passages.vtt: one cue per alignment cue; the text is the passage as written."""

    filename = "passages.vtt"

    def captions(self, result: SyncResult) -> Iterable[webvtt.Caption]:
        cues = ordered_cues(result.alignment)
        for ident, c in zip(cue_ids(cues), cues, strict=True):
            text = vtt_escape(result.discourse.passage(c.passage_id).text)
            yield webvtt.Caption(timestamp(c.start), timestamp(c.end), text, identifier=ident)


class WriteParagraphsVTT(WriteVTT):
    """paragraphs.vtt: one cue per paragraph run (chapters)."""

    filename = "paragraphs.vtt"

    def captions(self, result: SyncResult) -> Iterable[webvtt.Caption]:
        runs = paragraph_runs(result.alignment)
        for ident, r in zip(run_ids(runs), runs, strict=True):
            title = vtt_escape(chapter_title(result.discourse.paragraph(r.paragraph_id)))
            yield webvtt.Caption(timestamp(r.start), timestamp(r.end), title, identifier=ident)


def alignment_document(result: SyncResult) -> dict[str, Any]:
    """alignment.json: a superset of ``Alignment.to_dict()`` (``Alignment.load`` reads it back)
    plus the passages' text and ids, so the file stands on its own."""
    d = result.alignment.to_dict()
    cues = ordered_cues(result.alignment)
    by_obj = {id(c): ident for ident, c in zip(cue_ids(cues), cues, strict=True)}
    d["cues"] = [
        {"id": by_obj[id(c)], **cd, "text": strip_bidi_controls(result.discourse.passage(c.passage_id).text)}
        for c, cd in zip(result.alignment.cues, d["cues"], strict=True)
    ]
    d["passages"] = [
        {
            "id": p.id,
            "paragraph": p.paragraph,
            "text": p.text,
            "tokens": p.tokens,
            "footnotes": [{"number": f.number, "token_index": f.token_index} for f in p.footnotes],
        }
        for p in result.discourse.passages()
    ]
    d["paragraphs"] = [
        {"id": para.id, "number": para.number, "section": para.section, "passages": [p.id for p in para.passages]}
        for para in result.discourse.paragraphs
    ]
    d["front_matter"] = result.discourse.front_matter
    d["meta"] = {"software": f"shiur-sync {__version__}", **result.alignment.meta, **result.meta}
    return d


class WriteAlignmentJSON(ResultWriter):
    extension = "json"
    filename = "alignment.json"

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        json.dump(alignment_document(result), file, ensure_ascii=False, indent=1)


class WriteTranscriptJSON(ResultWriter):
    extension = "json"
    filename = "transcript.json"

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        if result.transcript is None:
            raise ValueError("no transcript to write")
        json.dump(result.transcript.to_dict(), file, ensure_ascii=False, indent=1)


WRITERS: dict[str, type[ResultWriter]] = {
    "passages.vtt": WritePassagesVTT,
    "paragraphs.vtt": WriteParagraphsVTT,
    "alignment.json": WriteAlignmentJSON,
    "transcript.json": WriteTranscriptJSON,
}
DEFAULT_OUTPUTS = ("passages.vtt", "paragraphs.vtt", "alignment.json", "transcript.json")


def get_writer(name: str, output_dir: str | Path) -> ResultWriter:
    try:
        return WRITERS[name](output_dir)
    except KeyError:
        raise ValueError(f"unknown output format {name!r}; known: {', '.join(WRITERS)}") from None


LOCK_NAME = ".shiur.lock"
JOURNAL_NAME = ".shiur-save.json"
PREPARED, COMMITTED = "prepared", "committed"


class SaveInterrupted(ShiurError):
    """A save with an outside commit point was cut off and nobody here can tell its outcome."""


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the output folder's lock (processes and threads alike wait for it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, atomic.FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _finish(folder: Path, journal: dict[str, Any]) -> None:
    for name, tmp in journal["files"].items():
        src = folder / tmp
        if src.exists():
            atomic.commit(src, folder / name)
    (folder / JOURNAL_NAME).unlink(missing_ok=True)


def _undo(folder: Path, journal: dict[str, Any]) -> None:
    for tmp in journal["files"].values():
        (folder / tmp).unlink(missing_ok=True)
    (folder / JOURNAL_NAME).unlink(missing_ok=True)


def pending_save(folder: str | Path) -> dict[str, Any] | None:
    """The journal of an interrupted save in ``folder``, if any."""
    try:
        return json.loads((Path(folder) / JOURNAL_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        # The journal is written atomically, so a damaged one was never a commit.
        return {"state": PREPARED, "files": {}, "tag": {}, "damaged": True}


def recover(folder: str | Path, decide: Callable[[dict[str, Any]], bool] | None = None, *,
            locked: bool = False) -> str | None:
    """Complete or roll back an interrupted save; the caller holds the lock when ``locked``.

    ``decide(tag)`` says whether a prepared save's outside commit happened. Returns
    "completed", "rolled back" or None (nothing pending).
    """
    folder = Path(folder)
    if not locked:
        if not (folder / JOURNAL_NAME).exists():
            return None
        with folder_lock(folder):
            return recover(folder, decide, locked=True)
    journal = pending_save(folder)
    if journal is None:
        return None
    if journal.get("state") == COMMITTED:
        _finish(folder, journal)
        return "completed"
    if journal.get("damaged"):
        (folder / JOURNAL_NAME).unlink(missing_ok=True)
        return "rolled back"
    if decide is None:
        raise SaveInterrupted(f"{folder}: an interrupted save is waiting to be completed by the web app")
    if decide(journal.get("tag") or {}):
        _finish(folder, journal)
        return "completed"
    _undo(folder, journal)
    return "rolled back"


def write_outputs(
    result: SyncResult,
    output_dir: str | Path,
    names: Iterable[str] = DEFAULT_OUTPUTS,
    *,
    commit: Callable[[], None] | None = None,
    tag: dict[str, Any] | None = None,
    decide: Callable[[dict[str, Any]], bool] | None = None,
    locked: bool = False,
) -> list[Path]:
    """Write the named outputs as one unit; transcript.json is skipped when there is no transcript.

    With ``commit``, the files are prepared, ``commit()`` runs (it must be the caller's own
    atomic commit, e.g. ``conn.commit``), and only then are they put in place; ``tag`` is kept
    in the journal for ``decide`` should the process die in between. ``locked``: the caller
    already holds :func:`folder_lock` (to read, change and write under one lock).
    """
    folder = Path(output_dir)
    if not locked:
        with folder_lock(folder):
            return write_outputs(result, folder, names, commit=commit, tag=tag, decide=decide, locked=True)
    recover(folder, decide, locked=True)
    atomic.clean_stale_temps(folder)
    files: dict[str, str] = {}
    try:
        for name in names:
            if name == "transcript.json" and result.transcript is None:
                continue
            writer = get_writer(name, folder)
            tmp = atomic.temp_path_for(writer.path())
            files[writer.filename] = tmp.name
            writer.write_to(result, tmp)
        journal = {"state": PREPARED if commit else COMMITTED, "files": files, "tag": tag or {}}
        atomic.write_json(folder / JOURNAL_NAME, journal)
        if commit is not None:
            commit()
    except BaseException:
        _undo(folder, {"files": files})
        raise
    _finish(folder, journal)
    return [folder / name for name in files]


# --- archivist formats: SRT, plain transcript, full JSON, cue-text options ---------------

CUE_TEXT_WORDS = 8
"""Default number of words for the "first words" cue-text option."""


@dataclass(frozen=True)
class CueText:
    """What a passage cue shows: the full passage text, the passage id only, or its first words.

    Spelled on the command line as ``text``, ``id``, ``words`` (first 8) or ``words:N``.
    """

    mode: str = "text"
    words: int = CUE_TEXT_WORDS

    MODES = ("text", "id", "words")

    @classmethod
    def parse(cls, spec: str | CueText | None) -> CueText:
        if isinstance(spec, CueText):
            return spec
        s = (spec or "text").strip().lower()
        mode, _, n = s.partition(":")
        if mode not in cls.MODES or (n and (mode != "words" or not n.isdigit() or int(n) < 1)):
            raise ValueError(f"cue text must be 'text', 'id', 'words' or 'words:N' (N >= 1), not {spec!r}")
        return cls(mode, int(n) if n else CUE_TEXT_WORDS)

    def render(self, discourse: Discourse, cue: Cue) -> str:
        if self.mode == "id":
            return cue.passage_id
        text = discourse.passage(cue.passage_id).text
        if self.mode == "words":
            tokens = text.split()
            return " ".join(tokens[: self.words]) + ("…" if len(tokens) > self.words else "")
        return text

    def __str__(self) -> str:
        return f"words:{self.words}" if self.mode == "words" else self.mode


def vtt_escape(text: str) -> str:
    """Escape a WebVTT cue payload: a raw "<" opens a tag and "&" an entity in every browser;
    bidi control characters are dropped (a discourse parsed here has none; an imported one may)."""
    return strip_bidi_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def srt_timestamp(seconds: float) -> str:
    """SRT timestamp HH:MM:SS,mmm."""
    return timestamp(seconds).replace(".", ",")


def _one_line(text: str) -> str:
    # A blank line ends an SRT/VTT cue, and "-->" inside a payload confuses parsers.
    return " ".join(strip_bidi_controls(text).split()).replace("-->", "->")


class _CueTextWriter(ResultWriter):
    def __init__(self, output_dir: str | Path, cue_text: CueText | str | None = None):
        super().__init__(output_dir)
        self.cue_text = CueText.parse(cue_text)


class WritePassagesVTTAs(_CueTextWriter, WritePassagesVTT):
    """passages.vtt with a chosen cue text (ids and times as in :class:`WritePassagesVTT`)."""

    def captions(self, result: SyncResult) -> Iterable[webvtt.Caption]:
        cues = ordered_cues(result.alignment)
        for ident, c in zip(cue_ids(cues), cues, strict=True):
            text = vtt_escape(_one_line(self.cue_text.render(result.discourse, c)))
            yield webvtt.Caption(timestamp(c.start), timestamp(c.end), text, identifier=ident)


class WriteSRT(_CueTextWriter):
    """passages.srt: the passage cues as SubRip (index, times with a comma, text, blank line).

    SRT has no cue identifiers, so re-reading/explanation is not recorded; a player that needs
    it should use passages.vtt.
    """

    extension = "srt"
    filename = "passages.srt"

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        for n, c in enumerate(ordered_cues(result.alignment), start=1):
            text = _one_line(self.cue_text.render(result.discourse, c)) or c.passage_id
            file.write(f"{n}\n{srt_timestamp(c.start)} --> {srt_timestamp(c.end)}\n{text}\n\n")


class WriteTXT(ResultWriter):
    """transcript.txt: what Whisper heard, one segment per line, no times."""

    extension = "txt"
    filename = "transcript.txt"

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        if result.transcript is None:
            raise ValueError("no transcript to write")
        for s in result.transcript.segments:
            line = " ".join(strip_bidi_controls(s.text).split())
            if line:
                file.write(line + "\n")


def full_document(result: SyncResult) -> dict[str, Any]:
    """full.json: alignment.json's content, the transcript with its words, and the corrections."""
    d = alignment_document(result)
    d["transcript"] = result.transcript.to_dict() if result.transcript is not None else None
    pins = [c.passage_id for c in result.alignment.cues if c.pinned]
    d["corrections"] = result.meta.get("corrections", [{"passage_id": p, "pinned": True} for p in pins])
    d["format"] = "shiur-sync full export 1"
    return d


class WriteFullJSON(ResultWriter):
    extension = "json"
    filename = "full.json"

    def write_result(self, result: SyncResult, file: IO[str]) -> None:
        json.dump(full_document(result), file, ensure_ascii=False, indent=1)


WRITERS.update({"passages.srt": WriteSRT, "transcript.txt": WriteTXT, "full.json": WriteFullJSON})
