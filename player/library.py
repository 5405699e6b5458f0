"""The library: discourses and synced recordings, on disk under ``LIBRARY_DIR`` and in SQLite.

Every recording lives in its own folder ``LIBRARY_DIR/<slug>/`` holding the untouched original
audio (``original.<ext>``), a browser-playable stream (often the same file), ``passages.vtt``,
``paragraphs.vtt``, ``alignment.json`` and ``transcript.json``. The ``recordings`` row points at
it with ``outdir`` (relative to ``LIBRARY_DIR`` so a library can be moved as a whole).

Functions take an open ``sqlite3.Connection`` and plain paths, so the CLI, the lecturer jobs and
the archivist exports can use them outside a request.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sqlite3
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sync.alignment import Alignment, cue_ids
from sync.audio import sha256_file
from sync.discourse import Discourse, decode_text, parse_discourse
from sync.errors import AudioError, ShiurError, TextError
from sync.hebrew import canonical_quotes, normalize, skeleton, words
from sync.slugs import slugify

SYNC_FILES = ("passages.vtt", "paragraphs.vtt", "alignment.json", "transcript.json")
REQUIRED_SYNC_FILES = ("passages.vtt", "paragraphs.vtt", "alignment.json")

# Which of sync.audio.EXTENSIONS a browser's <audio> plays directly, with the MIME type to serve;
# anything else needs the streaming copy (webaudio).
AUDIO_TYPES = {
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".webm": "audio/webm",
    ".weba": "audio/webm",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
}

@dataclass
class Recording:
    id: int
    slug: str
    title: str
    lecturer: str
    recorded_on: str | None
    duration: float | None
    discourse_id: int | None
    discourse_title: str | None
    discourse_slug: str | None
    audio_path: str | None
    stream_path: str | None
    outdir: str | None
    status: str
    published: bool
    created_at: str
    audio_sha256: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Recording:
        keys = row.keys()
        return cls(
            id=row["id"],
            slug=row["slug"],
            title=row["title"],
            lecturer=row["lecturer"] or "",
            recorded_on=row["recorded_on"],
            duration=row["duration"],
            discourse_id=row["discourse_id"],
            discourse_title=row["discourse_title"] if "discourse_title" in keys else None,
            discourse_slug=row["discourse_slug"] if "discourse_slug" in keys else None,
            audio_path=row["audio_path"],
            stream_path=row["stream_path"],
            outdir=row["outdir"],
            status=row["status"],
            published=bool(row["published"]),
            created_at=row["created_at"],
            audio_sha256=(row["audio_sha256"] if "audio_sha256" in keys else None) or "",
        )

    @property
    def synced(self) -> bool:
        return self.status == "ready"


# --- names -------------------------------------------------------------------------------------


def recording_slug(title: str, recorded_on: str | None = None) -> str:
    """``2024-10-06-שבת-שובה``: the date first, so a folder listing sorts by date."""
    return slugify(f"{recorded_on or ''} {title}", "shiur")


def unique_slug(conn: sqlite3.Connection, table: str, base: str, library_dir: Path | None = None) -> str:
    if table not in ("recordings", "discourses"):
        raise ValueError(table)
    slug, n = base, 1
    while conn.execute(f"SELECT 1 FROM {table} WHERE slug = ?", (slug,)).fetchone() or (
        library_dir is not None and (library_dir / slug).exists()
    ):
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- discourses --------------------------------------------------------------------------------


def discourse_title(d: Discourse, text: str) -> str:
    """A readable title: the first body words (front matter is usually a date line)."""
    if d.paragraphs and d.paragraphs[0].passages:
        words = d.paragraphs[0].passages[0].tokens[:6]
        return " ".join(words).rstrip(",.:;")
    return text.strip().splitlines()[0][:60]


def search_key(word: str) -> str:
    """A word as searches compare it: the aligner's spelling-insensitive key (sync.hebrew).

    Niqqud, geresh/gershayim (״ or "), final letters and full/defective spelling all fold away,
    so מִמַּעֲמַקִּים, ממעמקים and ממעמקיים find the same word.
    """
    return skeleton(normalize(canonical_quotes(word)))


def search_form(text: str) -> str:
    """The searchable form of a discourse, stored with it: every word's key, space-separated and
    space-padded, so a query key matches the start of a word (`` key`` in the column)."""
    return " " + " ".join(k for k in (search_key(w) for w in words(canonical_quotes(text))) if k) + " "


def fill_search_text(conn: sqlite3.Connection) -> None:
    """Give discourses stored before ``discourses.search_text`` existed (or stored by code that
    bypassed :func:`add_discourse`) their searchable form, once, so the library search never
    parses discourse texts per request (the column itself is added by ``player/migrations.py``)."""
    for r in conn.execute("SELECT id, text FROM discourses WHERE search_text IS NULL").fetchall():
        conn.execute("UPDATE discourses SET search_text = ? WHERE id = ?", (search_form(r["text"]), r["id"]))
    conn.commit()


def add_discourse(conn: sqlite3.Connection, text: str, title: str | None = None, slug: str | None = None) -> int:
    """Store a discourse text (already decoded); returns its id. An identical text is stored once."""
    d = parse_discourse(text)
    if not d.paragraphs:
        raise TextError("the text has no paragraphs (paragraphs are separated by blank lines)")
    existing = conn.execute("SELECT id FROM discourses WHERE text = ?", (text,)).fetchone()
    if existing:
        return int(existing["id"])
    title = (title or "").strip() or discourse_title(d, text)
    slug = unique_slug(conn, "discourses", slug or slugify(title, "maamar"))
    cur = conn.execute(
        "INSERT INTO discourses (slug, title, text, search_text) VALUES (?, ?, ?, ?)",
        (slug, title, text, search_form(text)),
    )
    conn.commit()
    return int(cur.lastrowid or 0)


def add_discourse_file(conn: sqlite3.Connection, path: Path, title: str | None = None) -> int:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TextError(f"{path}: text file not found") from None
    return add_discourse(conn, decode_text(data, str(path)), title)


def ensure_sample(conn: sqlite3.Connection, sample_text: str | Path) -> int | None:
    """Put the bundled sample discourse in the library on first run (idempotent)."""
    path = Path(sample_text)
    if not path.is_file():
        return None
    text = decode_text(path.read_bytes(), str(path))
    row = conn.execute("SELECT id FROM discourses WHERE text = ?", (text,)).fetchone()
    if row:
        return int(row["id"])
    return add_discourse(conn, text, title="ממעמקים קראתיך — ש\"פ וילך, שבת שובה תשכ\"ה", slug=path.stem)


def get_discourse(conn: sqlite3.Connection, ref: int | str) -> sqlite3.Row | None:
    col = "id" if isinstance(ref, int) else "slug"
    return conn.execute(f"SELECT * FROM discourses WHERE {col} = ?", (ref,)).fetchone()


def list_discourses(conn: sqlite3.Connection, include_unpublished: bool = False) -> list[sqlite3.Row]:
    """Discourses, each with how many of its recordings the visitor can see (drafts only when
    ``include_unpublished``). Only the short columns are read, never the texts."""
    visible = "" if include_unpublished else " AND r.published = 1"
    return conn.execute(
        "SELECT d.id, d.slug, d.title, d.created_at,"
        f" (SELECT COUNT(*) FROM recordings r WHERE r.discourse_id = d.id{visible}) AS n_recordings"
        " FROM discourses d ORDER BY d.created_at, d.id"
    ).fetchall()


def count_classes(n: int) -> tuple[str, str]:
    """How many classes, in Hebrew and English, with the number agreement each language wants."""
    if n == 0:
        return "אין שיעורים", "no classes"
    if n == 1:
        return "שיעור אחד", "1 class"
    if n == 2:
        return "שני שיעורים", "2 classes"
    return f"{n} שיעורים", f"{n} classes"


def parsed_discourse(row: sqlite3.Row) -> Discourse:
    """The row's text parsed, shared between requests: treat it as read-only."""
    return parse_text(row["text"])


PARSED_TEXTS = 64
"""Discourse texts kept parsed in memory (a few hundred KB each). Parsing the sample takes about
10 ms, and every player page needs it; a library has far fewer texts than recordings."""


@functools.lru_cache(maxsize=PARSED_TEXTS)
def parse_text(text: str) -> Discourse:
    """``parse_discourse`` cached by the text itself, so an edited text is parsed afresh."""
    return parse_discourse(text)


# --- recordings --------------------------------------------------------------------------------


# Types sent as text although they are not text/*: they get "; charset=utf-8" like text/* does.
TEXT_TYPES = ("application/json", "application/x-subrip", "application/manifest+json")


def content_type(mimetype: str) -> str:
    """A full Content-Type for one of our files: UTF-8 declared once for text, nothing for binary."""
    if "charset=" in mimetype:
        return mimetype
    if mimetype.startswith("text/") or mimetype in TEXT_TYPES:
        return f"{mimetype}; charset=utf-8"
    return mimetype


def audio_type(path: str | Path) -> str | None:
    return AUDIO_TYPES.get(Path(path).suffix.lower())


def probe_duration(path: Path) -> float | None:
    """Duration in seconds without decoding the file (WAV header, else ffmpeg's header read)."""
    if path.suffix.lower() == ".wav":
        try:
            with wave.open(str(path)) as w:
                return w.getnframes() / float(w.getframerate())
        except (wave.Error, EOFError):
            pass
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        res = subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=30)
    except (ImportError, OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", res.stderr)
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h) * 3600 + int(mi) * 60 + float(s)


def import_recording(
    conn: sqlite3.Connection,
    library_dir: Path,
    sync_dir: Path,
    audio: Path,
    discourse_id: int,
    title: str,
    lecturer: str = "",
    recorded_on: str | None = None,
    published: bool = True,
    stream: Path | None = None,
    move: bool = False,
    slug: str | None = None,
) -> Recording:
    """Copy a finished sync output folder and its audio into the library and add the DB row.

    Nothing is written to the DB until every file is in place, and a failed copy removes the
    half-made folder, so an error never leaves a broken recording behind.
    """
    sync_dir, audio, library_dir = Path(sync_dir), Path(audio), Path(library_dir)
    if not audio.is_file():
        raise AudioError(f"{audio}: audio file not found")
    missing = [n for n in REQUIRED_SYNC_FILES if not (sync_dir / n).is_file()]
    if missing:
        raise ShiurError(f"{sync_dir}: not a finished sync output (missing {', '.join(missing)})")
    if get_discourse(conn, discourse_id) is None:
        raise ShiurError(f"discourse {discourse_id} is not in the library")
    title = title.strip()
    if not title:
        raise ShiurError("a recording needs a title")
    base = slug or recording_slug(title, recorded_on)
    slug = unique_slug(conn, "recordings", base, library_dir)
    dest = library_dir / slug
    dest.mkdir(parents=True)
    op = shutil.move if move else shutil.copy2
    try:
        original = dest / f"original{audio.suffix.lower()}"
        op(str(audio), str(original))
        if stream is not None and Path(stream).resolve() != audio.resolve():
            stream_dest = dest / f"stream{Path(stream).suffix.lower()}"
            op(str(stream), str(stream_dest))
        elif audio_type(original):
            stream_dest = original
        else:
            stream_dest = None
        for name in SYNC_FILES:
            if (sync_dir / name).is_file():
                shutil.copy2(sync_dir / name, dest / name)
        duration = _duration(dest, stream_dest or original)
        cur = conn.execute(
            "INSERT INTO recordings (slug, title, lecturer, recorded_on, duration, discourse_id, audio_path,"
            " stream_path, outdir, status, published, audio_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?)",
            (
                slug,
                title,
                lecturer.strip(),
                recorded_on,
                duration,
                discourse_id,
                original.name,
                stream_dest.name if stream_dest else None,
                slug,
                int(published),
                sha256_file(original),
            ),
        )
        conn.commit()
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    rec = get_recording(conn, int(cur.lastrowid or 0), include_unpublished=True)
    assert rec is not None
    return rec


def _duration(folder: Path, audio: Path) -> float | None:
    try:
        data = json.loads((folder / "alignment.json").read_text(encoding="utf-8"))
        if data.get("duration"):
            return float(data["duration"])
    except (OSError, ValueError):
        pass
    return probe_duration(audio)


_SELECT = (
    "SELECT r.*, d.title AS discourse_title, d.slug AS discourse_slug FROM recordings r"
    " LEFT JOIN discourses d ON d.id = r.discourse_id"
)


def get_recording(conn: sqlite3.Connection, ref: int | str, include_unpublished: bool = False) -> Recording | None:
    col = "r.id" if isinstance(ref, int) else "r.slug"
    sql = f"{_SELECT} WHERE {col} = ?"
    if not include_unpublished:
        sql += " AND r.published = 1"
    row = conn.execute(sql, (ref,)).fetchone()
    return Recording.from_row(row) if row else None


DURATION_FILTERS = {
    "short": (None, 30 * 60),
    "medium": (30 * 60, 90 * 60),
    "long": (90 * 60, None),
}


def list_recordings(
    conn: sqlite3.Connection,
    query: str = "",
    lecturer: str = "",
    discourse_id: int | None = None,
    date_from: str = "",
    date_to: str = "",
    length: str = "",
    include_unpublished: bool = False,
    sort: str = "date",
) -> list[Recording]:
    """Recordings matching every given filter.

    Each word of ``query`` must be in the title, the lecturer, the discourse title or the
    discourse text. Gershayim/geresh (״ ׳) and ASCII quotes are the same; the text is matched on
    its stored searchable form (``search_form``), so niqqud and full/defective spelling do not matter.
    """
    where: list[str] = []
    args: list[Any] = []
    if not include_unpublished:
        where.append("r.published = 1")
    for word in query.split():
        like = f"%{_escape_like(canonical_quotes(word))}%"
        fields = []
        for col in ("r.title", "r.lecturer", "d.title"):
            fields.append(f"REPLACE(REPLACE({col}, ?, ?), ?, ?) LIKE ? ESCAPE '\\'")
            args += ["\u05f4", '"', "\u05f3", "'", like]
        key = search_key(word)
        if key:
            fields.append("d.search_text LIKE ? ESCAPE '\\'")
            args.append(f"% {_escape_like(key)}%")
        where.append("(" + " OR ".join(fields) + ")")
    if lecturer:
        where.append("r.lecturer = ?")
        args.append(lecturer)
    if discourse_id is not None:
        where.append("r.discourse_id = ?")
        args.append(discourse_id)
    if date_from:
        where.append("r.recorded_on >= ?")
        args.append(date_from)
    if date_to:
        where.append("r.recorded_on <= ?")
        args.append(date_to)
    if length in DURATION_FILTERS:
        lo, hi = DURATION_FILTERS[length]
        if lo is not None:
            where.append("r.duration >= ?")
            args.append(lo)
        if hi is not None:
            where.append("r.duration < ?")
            args.append(hi)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    order = {"title": "r.title", "duration": "r.duration DESC"}.get(
        sort, "COALESCE(r.recorded_on, r.created_at) DESC, r.id DESC"
    )
    sql += f" ORDER BY {order}"
    return [Recording.from_row(r) for r in conn.execute(sql, args).fetchall()]


def lecturers(conn: sqlite3.Connection, include_unpublished: bool = False) -> list[str]:
    sql = "SELECT DISTINCT lecturer FROM recordings WHERE lecturer != ''"
    if not include_unpublished:
        sql += " AND published = 1"
    return [r["lecturer"] for r in conn.execute(sql + " ORDER BY lecturer").fetchall()]


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_by_audio(conn: sqlite3.Connection, sha256: str) -> Recording | None:
    """The recording whose original audio has this content (the oldest, if several), or None."""
    row = conn.execute(f"{_SELECT} WHERE r.audio_sha256 = ? ORDER BY r.id LIMIT 1", (sha256,)).fetchone()
    return Recording.from_row(row) if row else None


def ensure_audio_sha256(conn: sqlite3.Connection, library_dir: str | Path, rec: Recording) -> str:
    """The recording's audio hash, computed once and stored (libraries made before it was kept)."""
    if rec.audio_sha256:
        return rec.audio_sha256
    path = recording_dir(library_dir, rec) / (rec.audio_path or "")
    if not rec.audio_path or not path.is_file():
        return ""
    digest = sha256_file(path)
    conn.execute("UPDATE recordings SET audio_sha256 = ? WHERE id = ?", (digest, rec.id))
    conn.commit()
    rec.audio_sha256 = digest
    return digest


def recording_dir(library_dir: str | Path, rec: Recording) -> Path:
    return Path(library_dir) / (rec.outdir or rec.slug)


def word_timings(folder: Path) -> dict[str, list[list[float]]]:
    """Compact word timings for the player: ``{cue_id: [[token_index, start, end], ...]}``.

    Keyed by the same cue ids as passages.vtt, so the page pairs them with the active cue. The
    writers store each cue's id in alignment.json; older files get ids recomputed the writers' way
    (cues in time order).
    """
    path = folder / "alignment.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    raw = data.get("cues", [])
    cues = Alignment.from_dict(data).cues
    if all("id" in c for c in raw):
        ids = [c["id"] for c in raw]
    else:
        order = sorted(range(len(cues)), key=lambda i: cues[i].start)
        ids = [""] * len(cues)
        for i, cid in zip(order, cue_ids([cues[i] for i in order]), strict=True):
            ids[i] = cid
    out: dict[str, list[list[float]]] = {}
    for cid, cue in zip(ids, cues, strict=True):
        if cue.words:
            out[cid] = [[w.index, round(w.start, 3), round(w.end, 3)] for w in sorted(cue.words, key=lambda w: w.start)]
    return out


@dataclass(frozen=True)
class ParagraphReading:
    """How one recording covers one paragraph: for the contents panel and the discourse page."""

    start: float
    """When the lecturer first reads it (or, if he only explains it, first talks about it)."""
    read: bool
    explained: bool


def file_stamp(path: Path) -> tuple[int, int] | None:
    """A file's modification time and size (None if it is missing): what tells a cached reading
    of it from a stale one."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def paragraph_readings(folder: Path) -> dict[str, ParagraphReading]:
    """``{paragraph id: ParagraphReading}`` from a recording's alignment.json ({} if none).

    Cached by the file's mtime and size: the discourse page asks this of every recording of a
    discourse, and a lecturer's correction rewrites the file, which changes the key.
    """
    path = Path(folder) / "alignment.json"
    stamp = file_stamp(path)
    return {} if stamp is None else _paragraph_readings(str(path), *stamp)


@functools.lru_cache(maxsize=1024)
def _paragraph_readings(path: str, _mtime_ns: int, _size: int) -> dict[str, ParagraphReading]:
    try:
        cues = json.loads(Path(path).read_text(encoding="utf-8")).get("cues", [])
    except (OSError, ValueError):
        return {}
    first_read: dict[str, float] = {}
    first_any: dict[str, float] = {}
    explained: set[str] = set()
    for c in cues:
        para = str(c.get("passage_id", "")).split(".")[0]
        if not para:
            continue
        start = float(c.get("start", 0.0))
        first_any[para] = min(start, first_any.get(para, start))
        if c.get("kind", "read") == "read":
            first_read[para] = min(start, first_read.get(para, start))
        else:
            explained.add(para)
    return {
        para: ParagraphReading(first_read.get(para, t), para in first_read, para in explained)
        for para, t in first_any.items()
    }


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --- command line ------------------------------------------------------------------------------


def _cli_app_conn() -> tuple[Any, sqlite3.Connection]:
    from . import create_app
    from .db import connect

    app = create_app()
    return app, connect(app.config["DATABASE"])


@click.command("import")
@click.argument("sync_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="Title shown in the library.")
@click.option("--lecturer", default="", help="Lecturer's name.")
@click.option("--date", "recorded_on", default=None, help="Date of the class, YYYY-MM-DD.")
@click.option("--draft", is_flag=True, help="Keep it unpublished (hidden from listeners).")
def import_command(sync_dir: Path, audio: Path, text: Path, title: str, lecturer: str, recorded_on: str | None,
                   draft: bool) -> None:
    """Add an already-synced recording (a `shiur sync` output folder) to the web library."""
    _check_date(recorded_on)
    app, conn = _cli_app_conn()
    try:
        did = add_discourse_file(conn, text)
        rec = import_recording(conn, Path(app.config["LIBRARY_DIR"]), sync_dir, audio, did, title, lecturer,
                               recorded_on, published=not draft)
    finally:
        conn.close()
    click.echo(f"added {rec.slug}: /r/{rec.slug}")


@click.command("add")
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="Title shown in the library.")
@click.option("--lecturer", default="", help="Lecturer's name.")
@click.option("--date", "recorded_on", default=None, help="Date of the class, YYYY-MM-DD.")
@click.option("--model", default=None, help="Whisper model name or folder (default: the bundled base).")
@click.option("--language", default="he", show_default=True, help="Spoken language (Whisper code).")
@click.option("--draft", is_flag=True, help="Keep it unpublished (hidden from listeners).")
def add_command(audio: Path, text: Path, title: str, lecturer: str, recorded_on: str | None, model: str | None,
                language: str, draft: bool) -> None:
    """Sync a recording with its discourse and add it to the web library (transcribes: takes a while)."""
    import tempfile

    from sync.pipeline import sync_recording

    _check_date(recorded_on)
    app, conn = _cli_app_conn()
    try:
        did = add_discourse_file(conn, text)
        with tempfile.TemporaryDirectory(prefix="shiur-add-") as tmp:
            sync_recording(audio, text, tmp, model=model, language=language,
                           say=lambda m: click.echo(m, err=True))
            rec = import_recording(conn, Path(app.config["LIBRARY_DIR"]), Path(tmp), audio, did, title,
                                   lecturer, recorded_on, published=not draft)
    finally:
        conn.close()
    click.echo(f"added {rec.slug}: /r/{rec.slug}")


def _check_date(value: str | None) -> None:
    if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ShiurError(f"--date {value!r}: use YYYY-MM-DD")
