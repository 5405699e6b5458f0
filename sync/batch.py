"""Batch processing of a collection: many recordings, each with its discourse text, into OUTDIR.

Input is a folder (each audio file paired with the ``.txt`` of the same stem, or with the only
``.txt`` in the folder) or a manifest (CSV or JSON: audio path, text path, metadata columns).

Resuming is the point of the design. ``OUTDIR/batch-state.json`` records every finished item; an
item's outputs are written into ``OUTDIR/.<key>.partial/`` and renamed to ``OUTDIR/<key>/``
only when complete, and the state file itself is replaced atomically. After an interruption at
any moment, a rerun skips every item the state marks done (if its folder is there and its audio
unchanged) and redoes the rest from scratch. Failed items are retried: their cause (a missing
text, a corrupt file replaced since) may have been fixed.

Each worker is a process holding its own Whisper model, so memory grows with ``--workers``.
With ``--queue redis://...`` the items are Huey tasks instead, run by ``shiur worker`` processes
on any machine that sees the same paths (see docs/deployment.md); this process waits for their
results and keeps the same state file and reports.

While a recording is transcribed its worker writes its progress to ``OUTDIR/.progress/`` and
its transcription checkpoint to ``OUTDIR/.checkpoints/``: the batch shows the running
recording's percent and ETA, and a recording interrupted mid-transcription resumes from its
checkpoint on the next run instead of from the start.
"""

from __future__ import annotations

import csv
import html
import json
import multiprocessing
import os
import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from . import __version__, atomic
from . import queue as queue_tasks
from .audio import EXTENSIONS
from .errors import ShiurError
from .slugs import slugify

STATE_NAME = "batch-state.json"
REPORT_CSV = "report.csv"
REPORT_HTML = "report.html"
STATE_VERSION = 1
DONE = "done"
FAILED = "failed"

AUDIO_EXTENSIONS = EXTENSIONS
_AUDIO_COLUMNS = ("audio", "audio_path", "file", "recording")
_TEXT_COLUMNS = ("text", "text_path", "discourse", "maamar")


@dataclass
class BatchItem:
    key: str
    """Unique, filesystem-safe name; the item's output folder is ``OUTDIR/<key>``."""
    audio: Path
    text: Path | None
    metadata: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    """Set when the input itself is unusable (e.g. no text found); the item fails with it."""


@dataclass
class BatchOptions:
    model: str | None = None
    language: str | None = None
    formats: tuple[str, ...] = ()
    """Extra exports beside the standard outputs: "srt", "txt", "json", "bundle"."""
    cue_text: str = "text"
    """Cue text of the VTT/SRT exports: "text", "id", "words" or "words:N"."""


@dataclass
class ItemResult:
    key: str
    status: str
    audio: str = ""
    text: str = ""
    duration: float = 0.0
    passages: int = 0
    covered: int = 0
    coverage_pct: float = 0.0
    mean_confidence: float | None = None
    skipped: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    outdir: str = ""
    audio_size: int = 0
    audio_mtime: float = 0.0
    text_size: int = 0
    text_mtime: float = 0.0
    finished_at: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


# --------------------------------------------------------------------------- discovery


def key_for(name: str) -> str:
    """A batch item's key (its output folder): the file name's letters, digits, '.' and '_', case kept."""
    return slugify(name, "item", max_chars=None, keep="._", lower=False)


def _unique_keys(items: list[BatchItem]) -> list[BatchItem]:
    seen: dict[str, int] = {}
    for it in items:
        base = it.key
        n = seen[base] = seen.get(base, 0) + 1
        if n > 1:
            it.key = f"{base}-{n}"
    return items


def _text_for(audio: Path, root: Path) -> Path | None:
    """Same stem beside it; else the only .txt in its folder; else in each parent up to ``root``."""
    same = audio.with_suffix(".txt")
    if same.is_file():
        return same
    folder = audio.parent
    while True:
        texts = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".txt"]
        if len(texts) == 1:
            return texts[0]
        if texts or folder == root or root not in folder.parents:
            return None
        folder = folder.parent


def discover_folder(folder: Path, recursive: bool = False) -> list[BatchItem]:
    """Audio files in ``folder`` (and its sub-folders with ``recursive``), each with its text.

    A sub-folder's recordings get keys prefixed with its path (``2023-shiur1``) so equal file
    names in different years do not collide.
    """
    found = folder.rglob("*") if recursive else folder.iterdir()
    audio = sorted(
        p for p in found if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")
    )
    items = []
    for a in audio:
        text = _text_for(a, folder)
        problem = ""
        if text is None:
            problem = f"no text for {a.name}: put {a.stem}.txt beside it (or a single .txt for its folder)"
        rel = a.relative_to(folder).with_suffix("")
        items.append(
            BatchItem(key=key_for("-".join(rel.parts)), audio=a, text=text, metadata={"title": a.stem}, problem=problem)
        )
    if not items:
        raise ShiurError(f"{folder}: no audio files found (looked for {', '.join(AUDIO_EXTENSIONS)})")
    return _unique_keys(items)


def _pick(row: dict[str, Any], names: Sequence[str]) -> str:
    lower = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for n in names:
        v = lower.get(n)
        if v not in (None, ""):
            return str(v).strip()
    return ""


def _rows_to_items(rows: Iterable[dict[str, Any]], base: Path, source: str) -> list[BatchItem]:
    items = []
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ShiurError(f"{source}: item {n} is not an object with 'audio' and 'text'")
        audio_s = _pick(row, _AUDIO_COLUMNS)
        if not audio_s:
            raise ShiurError(f"{source}: item {n} has no audio path (column 'audio')")
        text_s = _pick(row, _TEXT_COLUMNS)
        audio = (base / audio_s).resolve() if not Path(audio_s).is_absolute() else Path(audio_s)
        text = ((base / text_s).resolve() if not Path(text_s).is_absolute() else Path(text_s)) if text_s else None
        meta = {
            str(k).strip().lower(): str(v)
            for k, v in row.items()
            if k is not None and str(k).strip().lower() not in (*_AUDIO_COLUMNS, *_TEXT_COLUMNS) and v not in (None, "")
        }
        meta.setdefault("title", audio.stem)
        key = key_for(_pick(row, ("key", "slug", "id")) or audio.stem)
        problem = "" if text else f"item {n} ({audio.name}) has no text path (column 'text')"
        items.append(BatchItem(key=key, audio=audio, text=text, metadata=meta, problem=problem))
    if not items:
        raise ShiurError(f"{source}: the manifest lists no recordings")
    return _unique_keys(items)


def discover_manifest(path: Path) -> list[BatchItem]:
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ShiurError(f"{path}: manifest is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ShiurError(f"{path}: not valid JSON ({e})") from None
        rows = data.get("items") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ShiurError(f"{path}: expected a list of items (or {{\"items\": [...]}})")
        return _rows_to_items(rows, path.parent, str(path))
    reader = csv.DictReader(raw.splitlines())
    if not reader.fieldnames or not any(f.strip().lower() in _AUDIO_COLUMNS for f in reader.fieldnames):
        raise ShiurError(f"{path}: CSV manifest needs a header row with an 'audio' column (and 'text')")
    return _rows_to_items(reader, path.parent, str(path))


def discover(source: str | Path, recursive: bool = False) -> list[BatchItem]:
    """Items from a folder (with ``recursive``, its sub-folders too) or a ``.csv`` / ``.json`` manifest."""
    p = Path(source)
    if not p.exists():
        raise ShiurError(f"{p}: no such folder or manifest")
    if p.is_dir():
        return discover_folder(p, recursive)
    if p.suffix.lower() in (".csv", ".json"):
        return discover_manifest(p)
    raise ShiurError(f"{p}: expected a folder of recordings or a .csv/.json manifest")


# --------------------------------------------------------------------------- state


def load_state(outdir: Path) -> dict[str, ItemResult]:
    path = outdir / STATE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ShiurError(f"{path}: batch state is damaged ({e}); move it away to start over") from None
    return {k: ItemResult.from_dict(v) for k, v in data.get("items", {}).items()}


def save_state(outdir: Path, state: dict[str, ItemResult]) -> None:
    data = {"version": STATE_VERSION, "software": f"shiur-sync {__version__}", "items": {}}
    data["items"] = {k: asdict(v) for k, v in state.items()}
    atomic.write_json(outdir / STATE_NAME, data, indent=1)


def _file_stamp(path: Path) -> tuple[int, float]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0.0
    return st.st_size, st.st_mtime


def is_finished(item: BatchItem, result: ItemResult | None, outdir: Path) -> bool:
    """Done before, its folder still there, and neither the audio nor the text changed since."""
    if result is None or result.status != DONE:
        return False
    if not (outdir / item.key).is_dir():
        return False
    text_stamp = _file_stamp(item.text) if item.text else (0, 0.0)
    return (result.audio_size, result.audio_mtime) == _file_stamp(item.audio) and (
        result.text_size,
        result.text_mtime,
    ) == text_stamp


# --------------------------------------------------------------------------- processing

Report = Callable[[float, float], None]
"""``report(done_seconds, total_seconds)``: how far the item's transcription is."""
Processor = Callable[[BatchItem, Path, BatchOptions, Report], dict[str, Any]]
"""Writes one item's outputs into the given (empty) folder, reporting its progress, and returns
its figures (duration, passages, covered, mean_confidence, skipped). Raises on failure."""
PROGRESS_DIR = ".progress"
CHECKPOINT_DIR = ".checkpoints"
RESULTS_DIR = ".results"
PROGRESS_WRITE_S = 0.5
"""A worker rewrites its progress file at most this often."""
POLL_S = 0.25
"""How often the batch looks at its workers' progress files to redraw the line."""
HEARTBEAT_S = 5.0
"""A worker touches its progress file this often even when nothing moves (alignment)."""
STALE_S = 60.0
"""With --queue: an item whose progress file is older than this lost its worker; it is sent again."""
MAX_SENDS = 3
"""With --queue: an item whose workers keep vanishing is failed after this many sends."""


def alignment_figures(alignment: Any, n_passages: int) -> dict[str, Any]:
    """The report's numbers for one alignment."""
    read = alignment.read_cues()
    covered = len({c.passage_id for c in read})
    confs = [c.confidence for c in read]
    return {
        "duration": float(alignment.duration),
        "passages": n_passages,
        "covered": covered,
        "mean_confidence": round(sum(confs) / len(confs), 4) if confs else None,
        "skipped": list(alignment.skipped),
    }


def checkpoint_for(outdir: Path, key: str) -> Path:
    return outdir / CHECKPOINT_DIR / f"{key}.json"


def process_recording(item: BatchItem, workdir: Path, options: BatchOptions, report: Report | None = None
                      ) -> dict[str, Any]:
    """The real pipeline for one item: decode, transcribe (cached, resumable), align, write every output.

    ``sync.transcribe.load_model`` keeps one model per process, so each worker loads it once.
    """
    from .pipeline import sync_recording

    if item.text is None:
        raise ShiurError(item.problem or "no text")
    language = options.language or item.metadata.get("language") or "he"
    # workdir is OUTDIR/.<key>.partial; the checkpoint outlives it, for the next run.
    checkpoint = checkpoint_for(workdir.parent, item.key)
    checkpoint.parent.mkdir(exist_ok=True)
    res = sync_recording(item.audio, item.text, workdir, model=options.model, language=language,
                         on_progress=report, checkpoint=checkpoint)
    result = res.result
    figures = alignment_figures(result.alignment, len(result.discourse.passages()))
    if options.formats:
        from .bundle import export_result

        export_result(
            result, workdir, options.formats, cue_text=options.cue_text, audio=item.audio, metadata=item.metadata
        )
    return figures


def _failed_result(item: BatchItem) -> ItemResult:
    """An item's result before it succeeds: failed, with the input stamps that decide a redo."""
    size, mtime = _file_stamp(item.audio)
    text_size, text_mtime = _file_stamp(item.text) if item.text else (0, 0.0)
    return ItemResult(
        key=item.key,
        status=FAILED,
        audio=str(item.audio),
        text=str(item.text or ""),
        audio_size=size,
        audio_mtime=mtime,
        text_size=text_size,
        text_mtime=text_mtime,
        metadata=dict(item.metadata),
    )


class ProgressFile:
    """The worker's side of the progress line: ``OUTDIR/.progress/<key>.json``, rewritten at
    most every :data:`PROGRESS_WRITE_S`, and touched every :data:`HEARTBEAT_S` by a thread."""

    def __init__(self, outdir: Path, key: str):
        from .progress import Eta

        self.path = outdir / PROGRESS_DIR / f"{key}.json"
        self.path.parent.mkdir(exist_ok=True)
        self.key = key
        self.eta = Eta(1.0)
        self.done = 0.0
        self.total = 0.0
        self._written = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.write(force=True)
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def __call__(self, done: float, total: float) -> None:
        if total != self.eta.total:
            from .progress import Eta

            self.eta = Eta(total)
        self.eta.update(done)
        self.done, self.total = done, total
        self.write(force=done >= total)

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < PROGRESS_WRITE_S:
            return
        with self._lock:
            self._written = now
            data = {"key": self.key, "done": round(self.done, 2), "total": round(self.total, 2),
                    "eta": self.eta.eta(), "pid": os.getpid(), "host": socket.gethostname(), "beat": time.time()}
            try:
                atomic.write_json(self.path, data, fsync=False)
            except OSError:
                pass  # progress is a courtesy; the work goes on without it

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.write(force=True)

    def close(self) -> None:
        self._stop.set()


def _takes_report(processor: Callable[..., Any]) -> bool:
    """A processor written before progress reporting takes (item, workdir, options) only."""
    import inspect

    try:
        return len(inspect.signature(processor).parameters) >= 4
    except (TypeError, ValueError):
        return True


def _run_one(processor: Processor, item: BatchItem, outdir: Path, options: BatchOptions) -> ItemResult:
    """Runs in a worker: outputs go to a partial folder, renamed into place only when complete."""
    t0 = time.monotonic()
    res = _failed_result(item)
    partial = outdir / f".{item.key}.partial"
    final = outdir / item.key
    report = ProgressFile(outdir, item.key)
    try:
        if item.problem:
            raise ShiurError(item.problem)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        figures = processor(item, partial, options, report) if _takes_report(processor) else processor(
            item, partial, options)
        meta = {"key": item.key, "audio": str(item.audio), "text": str(item.text), **item.metadata}
        meta["figures"] = figures
        meta["options"] = asdict(options)
        meta["software"] = f"shiur-sync {__version__}"
        atomic.write_json(partial / "batch-item.json", meta, indent=1)
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
        res.status = DONE
        res.outdir = str(final)
        for k in ("duration", "passages", "covered", "mean_confidence"):
            if figures.get(k) is not None:
                setattr(res, k, figures[k])
        res.skipped = list(figures.get("skipped", []))
        res.coverage_pct = round(100.0 * res.covered / res.passages, 1) if res.passages else 0.0
        checkpoint_for(outdir, item.key).unlink(missing_ok=True)
    except ShiurError as e:
        res.error = str(e)
    except NotImplementedError as e:
        res.error = f"not available yet: {e}"
    except Exception as e:  # one bad recording must not stop the collection
        res.error = f"{type(e).__name__}: {e}"
        res.metadata["traceback"] = traceback.format_exc(limit=6)
    finally:
        report.close()
        shutil.rmtree(partial, ignore_errors=True)
    res.seconds = round(time.monotonic() - t0, 2)
    res.finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return res


@dataclass
class BatchSummary:
    results: list[ItemResult]
    ran: int
    reused: int

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.results if r.status != DONE]


class Display:
    """The batch's progress on stderr: the running recordings' percent and ETA, as `shiur sync`
    shows one recording's, read from the workers' progress files.

    On a terminal one line is redrawn; in a log (cron, CI) a line is printed per recording every
    10 % of its audio, and one when it finishes.
    """

    def __init__(self, outdir: Path, total: int, finished: int, enabled: bool, stream: Any = None):
        self.outdir = outdir
        self.total = total
        self.finished = finished
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.running: dict[str, int] = {}
        """key -> last decile printed (log mode)."""
        self._width = 0

    def start(self, key: str) -> None:
        self.running.setdefault(key, -1)

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.outdir / PROGRESS_DIR / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def line_for(self, key: str, p: dict[str, Any]) -> str:
        from .progress import clock

        n = self.finished + 1
        total, done = float(p.get("total") or 0), float(p.get("done") or 0)
        if total <= 0:
            return f"batch {n}/{self.total} {key}: preparing"
        frac = min(1.0, done / total)
        width = 20
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        eta = p.get("eta")
        eta_s = clock(eta) if eta is not None else "?"
        return (f"batch {n}/{self.total} {key}: transcribing [{bar}] {clock(done)} / {clock(total)} audio "
                f"{frac:4.0%}  ETA {eta_s}")

    def poll(self) -> None:
        if not self.enabled:
            return
        lines = []
        for key in list(self.running):
            p = self._read(key)
            if p is None:
                continue
            line = self.line_for(key, p)
            if self.tty:
                lines.append(line)
                continue
            total = float(p.get("total") or 0)
            decile = int(10 * float(p.get("done") or 0) / total) if total > 0 else -1
            if decile > self.running[key] and total > 0:
                self.running[key] = decile
                self.stream.write(line + "\n")
                self.stream.flush()
        if self.tty and lines:
            text = " | ".join(lines)
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
            self.stream.flush()

    def done(self, res: ItemResult) -> None:
        self.running.pop(res.key, None)
        self.finished += 1
        (self.outdir / PROGRESS_DIR / f"{res.key}.json").unlink(missing_ok=True)
        if not self.enabled:
            return
        what = "done" if res.status == DONE else f"failed: {res.error}"
        if self.tty:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(f"batch {self.finished}/{self.total}: {res.key}: {what}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def run_batch(
    items: Sequence[BatchItem],
    outdir: str | Path,
    *,
    workers: int = 1,
    options: BatchOptions | None = None,
    processor: Processor = process_recording,
    progress: bool = True,
    on_result: Callable[[ItemResult], None] | None = None,
    queue: str | None = None,
    stream: Any = None,
) -> BatchSummary:
    """Process ``items`` into ``outdir``, skipping those a previous run finished; write the reports.

    ``on_result`` is called in this process after each item is recorded in the state file.
    ``queue`` (a Redis URL): send the items to ``shiur worker`` processes instead of a local pool.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with _exclusive(outdir):
        return _run_batch(items, outdir, workers, options or BatchOptions(), processor, progress, on_result,
                          queue, stream)


LOCK_NAME = ".batch.lock"


@contextmanager
def _exclusive(outdir: Path) -> Iterator[None]:
    """One batch per output folder: a second run would overwrite the first one's state file.

    A POSIX record lock (``lockf``), not ``flock``: forked workers do not inherit it, so a worker
    that outlives an interrupted batch for a moment cannot block the rerun.
    """
    import fcntl

    with open(outdir / LOCK_NAME, "a+") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ShiurError(f"{outdir}: another `shiur batch` is already writing into this folder") from None
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


def _run_batch(
    items: Sequence[BatchItem],
    outdir: Path,
    workers: int,
    options: BatchOptions,
    processor: Processor,
    progress: bool,
    on_result: Callable[[ItemResult], None] | None,
    queue: str | None = None,
    stream: Any = None,
) -> BatchSummary:
    state = load_state(outdir)
    if queue:
        # Results that remote workers delivered after an interrupted run are collected first.
        found = _collect_results(outdir)
        for res, _path in found:
            state[res.key] = res
        save_state(outdir, state)
        for _res, path in found:
            path.unlink(missing_ok=True)
    else:
        # Leftovers of an interrupted run are never trusted (checkpoints are: they name their input).
        for leftover in outdir.glob(".*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(outdir / PROGRESS_DIR, ignore_errors=True)
    todo = [it for it in items if not is_finished(it, state.get(it.key), outdir)]
    reused = len(items) - len(todo)
    display = Display(outdir, len(items), reused, progress, stream)

    def record(res: ItemResult) -> None:
        state[res.key] = res
        save_state(outdir, state)
        display.done(res)
        if on_result is not None:
            on_result(res)

    if queue:
        try:
            _queue_pass(todo, outdir, options, processor, record, display, queue)
        finally:
            display.close()
            ordered = [state[it.key] for it in items if it.key in state]
            write_reports(outdir, ordered)
        return BatchSummary(results=ordered, ran=len(todo), reused=reused)

    try:
        # Every item runs in a worker process, even with one worker: a decoder or model crash (or
        # the out-of-memory killer) then takes down that worker, not the batch.
        remaining = list(todo)
        isolate = workers <= 1
        fruitless = 0
        while remaining:
            if isolate:
                lost, in_flight = _pool_pass(remaining, 1, 1, processor, outdir, options, record, display)
            else:
                lost, in_flight = _pool_pass(remaining, workers, workers * 2, processor, outdir, options, record,
                                             display)
            if not lost:
                break
            progressed = len(lost) < len(remaining)
            if len(in_flight) == 1:
                # Only one recording was being processed when its worker died: that one is the cause.
                record(_worker_died(in_flight[0], outdir))
                lost.remove(in_flight[0])
                isolate = workers <= 1
                progressed = True
            else:
                # Several (or none) were in flight: rerun one at a time to find the cause.
                isolate = True
            fruitless = 0 if progressed else fruitless + 1
            if fruitless >= 3:
                raise ShiurError("batch worker processes keep dying before they start (out of memory?)")
            remaining = lost
    finally:
        display.close()
        ordered = [state[it.key] for it in items if it.key in state]
        write_reports(outdir, ordered)
        _tidy(outdir)
    return BatchSummary(results=ordered, ran=len(todo), reused=reused)


def _tidy(outdir: Path) -> None:
    """No running recording is left to show; an empty checkpoint folder is not worth keeping."""
    shutil.rmtree(outdir / PROGRESS_DIR, ignore_errors=True)
    try:
        (outdir / CHECKPOINT_DIR).rmdir()
    except OSError:
        pass  # absent, or holding the checkpoint of an interrupted recording


WORKER_DIED = "the worker process died while processing it (a crash in the decoder or model, or out of memory)"


def _worker_died(item: BatchItem, outdir: Path) -> ItemResult:
    shutil.rmtree(outdir / f".{item.key}.partial", ignore_errors=True)
    res = _failed_result(item)
    res.error = WORKER_DIED
    res.finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return res


def _drain(pending: dict[Future[ItemResult], BatchItem], record: Callable[[ItemResult], None]) -> list[BatchItem]:
    """After a worker died: record what finished anyway; return the rest, in submission order."""
    wait(pending)
    lost = []
    for fut, it in list(pending.items()):
        del pending[fut]
        if isinstance(fut.exception(), BrokenProcessPool):
            lost.append(it)
        else:
            record(fut.result())
    return lost


def _mp_context() -> Any:
    """Fork (fast, and test doubles carry over) unless this process has already run Whisper:
    CTranslate2's and OpenMP's thread pools do not survive a fork, and the child would hang on
    its first decode. Then the workers start from a clean process instead."""
    from . import transcribe

    if sys.platform.startswith("linux") and not transcribe._MODELS:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")


def _pool_pass(
    items: Sequence[BatchItem],
    workers: int,
    max_pending: int,
    processor: Processor,
    outdir: Path,
    options: BatchOptions,
    record: Callable[[ItemResult], None],
    display: Display | None = None,
) -> tuple[list[BatchItem], list[BatchItem]]:
    """Run ``items`` in a process pool, recording each result as it arrives.

    Returns the items left without a result because a worker process died (which breaks the
    whole pool), in submission order, and those of them that were being processed at that moment;
    two empty lists when all were recorded.
    """
    ctx = _mp_context()
    queue = list(items)
    pending: dict[Future[ItemResult], BatchItem] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        while queue or pending:
            # Submit lazily so an interruption leaves few queued items to cancel.
            while queue and len(pending) < max_pending:
                try:
                    fut = pool.submit(_run_one, processor, queue[0], outdir, options)
                except BrokenProcessPool:
                    in_flight = _drain(pending, record)
                    return in_flight + queue, in_flight
                if display is not None:
                    display.start(queue[0].key)
                pending[fut] = queue.pop(0)
            # Woken every POLL_S to redraw the running recordings' progress.
            done, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            if display is not None:
                display.poll()
            for fut in [f for f in pending if f in done]:
                if isinstance(fut.exception(), BrokenProcessPool):
                    in_flight = _drain(pending, record)
                    return in_flight + queue, in_flight
                res = fut.result()
                del pending[fut]
                record(res)
        return [], []
    except BaseException:
        # Interrupted: stop the workers now rather than wait for their current recordings, and
        # remove what they had half written (a rerun would, but the folder should look clean now).
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
        for it in pending.values():
            shutil.rmtree(outdir / f".{it.key}.partial", ignore_errors=True)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- on the queue

QUEUE_TASK = "shiur_batch_item"
WAITING_HINT_S = 30.0
"""With --queue: say so when no worker has taken any item for this long."""


def _processor_name(processor: Processor) -> str:
    return f"{processor.__module__}:{processor.__qualname__}"


def _resolve(name: str) -> Processor:
    import importlib

    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _item_dict(item: BatchItem) -> dict[str, Any]:
    return {"key": item.key, "audio": str(item.audio), "text": str(item.text) if item.text else None,
            "metadata": dict(item.metadata), "problem": item.problem}


def _item_from(d: dict[str, Any]) -> BatchItem:
    return BatchItem(d["key"], Path(d["audio"]), Path(d["text"]) if d.get("text") else None,
                     dict(d.get("metadata") or {}), d.get("problem") or "")


def _lock_name(outdir: Path, key: str) -> str:
    return f"batch:{outdir}:{key}"


def run_queued_item(huey: Any, item_d: dict[str, Any], outdir_s: str, options_d: dict[str, Any],
                    processor_name: str) -> str | None:
    """The Huey task's body, in a ``shiur worker``: run one item, leave its result for the batch."""
    from huey.exceptions import TaskLockedException

    outdir = Path(outdir_s)
    item = _item_from(item_d)
    options = BatchOptions(**{**options_d, "formats": tuple(options_d.get("formats") or ())})
    try:
        with huey.lock_task(_lock_name(outdir, item.key)):
            res = _run_one(_resolve(processor_name), item, outdir, options)
            atomic.write_json(outdir / RESULTS_DIR / f"{item.key}.json", asdict(res))
            return res.status
    except TaskLockedException:
        return None  # another worker is on it (a resend raced the first)


def _register_tasks(huey: Any) -> dict[str, Any]:
    @huey.task(name=QUEUE_TASK)
    def batch_item(item_d: dict[str, Any], outdir_s: str, options_d: dict[str, Any], processor_name: str) -> Any:
        return run_queued_item(huey, item_d, outdir_s, options_d, processor_name)

    return {"batch_item": batch_item}


queue_tasks.add_tasks(__name__, _register_tasks)


def _collect_results(outdir: Path) -> list[tuple[ItemResult, Path]]:
    out = []
    for path in sorted((outdir / RESULTS_DIR).glob("*.json")):
        try:
            out.append((ItemResult.from_dict(json.loads(path.read_text(encoding="utf-8"))), path))
        except (OSError, ValueError, TypeError):
            continue  # being written (atomic: rare) or damaged; looked at again next time
    return out


def _beat(outdir: Path, key: str) -> float | None:
    try:
        return float(json.loads((outdir / PROGRESS_DIR / f"{key}.json").read_text(encoding="utf-8"))["beat"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _queue_pass(items: Sequence[BatchItem], outdir: Path, options: BatchOptions, processor: Processor,
                record: Callable[[ItemResult], None], display: Display, url: str) -> None:
    """Send ``items`` to the queue at ``url`` and record their results as workers deliver them.

    A worker killed mid-item stops touching its progress file; after :data:`STALE_S` the item is
    sent again (its transcription resumes from the checkpoint), at most :data:`MAX_SENDS` times.
    Interrupted, the items no worker has started are revoked; those running finish, and the next
    run collects their results.
    """
    huey = queue_tasks.open_queue(None, url)
    send = queue_tasks.tasks(huey, __name__)["batch_item"]
    (outdir / RESULTS_DIR).mkdir(exist_ok=True)
    (outdir / PROGRESS_DIR).mkdir(exist_ok=True)
    opts = {**asdict(options), "formats": list(options.formats)}
    name = _processor_name(processor)

    def push(item: BatchItem) -> str:
        task = send.s(_item_dict(item), str(outdir), opts, name)
        try:
            huey.enqueue(task)
        except Exception as e:  # redis.ConnectionError and kin
            raise ShiurError(f"{url}: the queue is not reachable ({str(e).splitlines()[0][:160]})") from None
        return task.id

    sent: dict[str, tuple[BatchItem, str | None, int]] = {}
    now = time.time()
    for item in items:
        beat = _beat(outdir, item.key)
        if beat is not None and now - beat < STALE_S:
            sent[item.key] = (item, None, 1)  # still running for an interrupted earlier run
        else:
            (outdir / PROGRESS_DIR / f"{item.key}.json").unlink(missing_ok=True)
            sent[item.key] = (item, push(item), 1)
        display.start(item.key)
    started_at, hinted = time.monotonic(), False
    try:
        while sent:
            time.sleep(POLL_S)
            display.poll()
            for res, path in _collect_results(outdir):
                if res.key in sent:
                    del sent[res.key]
                    record(res)
                path.unlink(missing_ok=True)
            now = time.time()
            for key, (item, _tid, sends) in list(sent.items()):
                beat = _beat(outdir, key)
                if beat is None or now - beat < STALE_S:
                    continue
                (outdir / PROGRESS_DIR / f"{key}.json").unlink(missing_ok=True)
                if sends >= MAX_SENDS:
                    del sent[key]
                    record(_worker_died(item, outdir))
                    continue
                # Its worker vanished holding the item's lock.
                huey.lock_task(_lock_name(outdir, key)).clear()
                sent[key] = (item, push(item), sends + 1)
            if not hinted and time.monotonic() - started_at > WAITING_HINT_S and all(
                    _beat(outdir, k) is None for k in sent) and display.finished == display.total - len(sent):
                hinted = True
                print(f"batch: waiting for a worker: run `shiur worker` with SHIUR_QUEUE={url} on a machine "
                      "that sees these folders", file=sys.stderr, flush=True)
    except BaseException:
        for key, (_item, tid, _sends) in sent.items():
            if tid is not None and _beat(outdir, key) is None:
                huey.revoke_by_id(tid)
        raise


# --------------------------------------------------------------------------- reports

REPORT_COLUMNS = (
    "key", "status", "title", "duration_s", "passages", "covered", "coverage_pct", "mean_confidence",
    "skipped_count", "skipped", "error", "seconds", "audio", "text", "outdir", "finished_at",
)  # fmt: skip


def report_rows(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        rows.append(
            {
                "key": r.key,
                "status": r.status,
                "title": r.metadata.get("title", ""),
                "duration_s": round(r.duration, 2) if r.status == DONE else "",
                "passages": r.passages if r.status == DONE else "",
                "covered": r.covered if r.status == DONE else "",
                "coverage_pct": r.coverage_pct if r.status == DONE else "",
                "mean_confidence": "" if r.mean_confidence is None else r.mean_confidence,
                "skipped_count": len(r.skipped) if r.status == DONE else "",
                "skipped": " ".join(r.skipped),
                "error": r.error,
                "seconds": r.seconds,
                "audio": r.audio,
                "text": r.text,
                "outdir": r.outdir,
                "finished_at": r.finished_at,
            }
        )
    return rows


def write_reports(outdir: Path, results: Sequence[ItemResult]) -> tuple[Path, Path]:
    rows = report_rows(results)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    csv_path = outdir / REPORT_CSV
    atomic.write_text(csv_path, buf.getvalue())
    html_path = outdir / REPORT_HTML
    atomic.write_text(html_path, render_html(rows))
    return csv_path, html_path


def render_html(rows: Sequence[dict[str, Any]]) -> str:
    done = sum(1 for r in rows if r["status"] == DONE)
    failed = len(rows) - done
    seconds = int(sum(float(r["duration_s"]) for r in rows if r["duration_s"] != ""))
    total = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    esc = html.escape
    head = "".join(
        f"<th>{esc(h)}</th>"
        for h in (
            "הקלטה / Recording", "מצב / Status", "משך / Duration", "כיסוי / Coverage", "ביטחון / Confidence",
            "דולגו / Skipped", "שגיאה / Failure",
        )
    )  # fmt: skip
    body = []
    for r in rows:
        cls = "ok" if r["status"] == DONE else "fail"
        dur = r["duration_s"]
        dur_s = f"{int(dur) // 60}:{int(dur) % 60:02d}" if dur != "" else ""
        cov = f"{r['coverage_pct']}%" if r["coverage_pct"] != "" else ""
        conf = f"{r['mean_confidence']:.2f}" if r["mean_confidence"] != "" else ""
        skipped = f"{r['skipped_count']}" + (f" <small>({esc(r['skipped'])})</small>" if r["skipped"] else "")
        link = f'<a href="{esc(r["key"])}/">{esc(r["title"] or r["key"])}</a>' if r["status"] == DONE else esc(
            r["title"] or r["key"]
        )
        body.append(
            f'<tr class="{cls}"><td dir="auto">{link}</td><td>{esc(r["status"])}</td><td>{dur_s}</td>'
            f"<td>{cov}</td><td>{conf}</td><td>{skipped if r['status'] == DONE else ''}</td>"
            f'<td dir="auto">{esc(r["error"])}</td></tr>'
        )
    return f"""<!doctype html>
<html lang="he" dir="rtl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>דוח עיבוד / Batch report</title>
<style>
body{{font-family:system-ui,"Noto Sans Hebrew",sans-serif;margin:1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:start}}
tr.fail{{background:#fde8e8}}small{{color:#555}}
</style></head><body>
<h1>דוח עיבוד / Batch report</h1>
<p>{done} הושלמו, {failed} נכשלו · <span dir="ltr" lang="en">{done} completed, {failed} failed</span></p>
<p>סה"כ שמע · <span dir="ltr" lang="en">total audio {total}</span></p>
<p><small>כיסוי = אחוז הקטעים שנקראו · <span dir="ltr" lang="en">coverage = share of the text's passages
found read in the recording. shiur-sync {esc(__version__)}</span></small></p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


# --------------------------------------------------------------------------- command line


@click.command("batch")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: one sub-folder per recording, batch-state.json, report.csv, report.html.")
@click.option("-w", "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Recordings processed at once, each in its own process with its own Whisper model "
                   "(memory grows with every worker).")
@click.option("--model", default=None, help="Whisper model (default: the bundled offline base).")
@click.option("--language", default=None,
              help="Spoken language (he, en, yi, ... or auto). Default: the manifest's 'language' column, else he.")
@click.option("--formats", default="", metavar="LIST",
              help="Extra exports per recording, comma-separated: srt, txt, json, bundle, or all.")
@click.option("--cue-text", default="text", show_default=True, metavar="SPEC",
              help="Cue text of the SRT/VTT exports: text, id, words or words:N.")
@click.option("-r", "--recursive", is_flag=True, help="Also take recordings from SOURCE's sub-folders.")
@click.option("--queue", "queue_url", default=None, metavar="redis://HOST:PORT/DB",
              help="Send the recordings to `shiur worker` processes through this Redis queue instead of a local "
                   "pool (the workers must see SOURCE and OUTDIR at the same paths).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def batch_command(source: Path, outdir: Path, workers: int, model: str | None, language: str | None, formats: str,
                  cue_text: str, recursive: bool, queue_url: str | None, quiet: bool) -> None:
    """Sync a whole collection: SOURCE is a folder or a CSV/JSON manifest.

    \b
    Folder: each audio file is paired with the .txt of the same name, or with the
    only .txt in the folder. Manifest: columns audio, text (paths relative to the
    manifest) and any metadata (title, lecturer, recorded_on, language, key).

    Interrupted? Run the same command again: finished recordings are not redone.
    """
    from .bundle import parse_formats
    from .writers import CueText

    try:
        spec = str(CueText.parse(cue_text))
    except ValueError as e:
        raise ShiurError(str(e)) from None
    items = discover(source, recursive)
    fmts = parse_formats(formats) if formats else ()
    opts = BatchOptions(model=model, language=language, formats=fmts, cue_text=spec)
    url = queue_tasks.queue_url(queue_url) if queue_url else None
    if url:
        # Remote workers see the same paths only if they are absolute.
        items = [BatchItem(it.key, it.audio.resolve(), it.text.resolve() if it.text else None, it.metadata,
                           it.problem) for it in items]
        outdir = outdir.resolve()
    try:
        summary = run_batch(items, outdir, workers=workers, options=opts, progress=not quiet, queue=url)
    except KeyboardInterrupt:
        done = sum(1 for r in load_state(outdir).values() if r.status == DONE)
        click.echo(f"\ninterrupted: {done} finished recordings are kept; run the same command to resume", err=True)
        raise
    ok = len(summary.results) - len(summary.failed)
    click.echo(f"{ok} of {len(items)} recordings done ({summary.reused} from an earlier run), "
               f"{len(summary.failed)} failed")
    for r in summary.failed:
        click.echo(f"  failed: {r.key}: {r.error}", err=True)
    click.echo(f"report: {outdir / REPORT_HTML}  {outdir / REPORT_CSV}")
    if summary.failed:
        sys.exit(1)
