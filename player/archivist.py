"""Archivists: per-recording downloads, the library catalogue, and attaching existing cue files.

Web: ``/r/<slug>/downloads`` (every export, with the cue-text option), ``/r/<slug>/download/<fmt>``,
``/catalogue`` (+ ``.csv`` / ``.json``), and for signed-in users ``POST /r/<slug>/attach``.
CLI: ``shiur export``, ``shiur catalogue``, ``shiur attach``.

Exports are rebuilt from the recording's ``alignment.json`` and its discourse on every request,
so the cue-text option applies to any recording and the files never disagree with the review
edits already saved.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from player.listener import can_see_unpublished, recording_or_404
from sync import atomic
from sync.bundle import EXPORTS, audio_filename, export_result, load_result, parse_formats
from sync.discourse import Discourse, parse_discourse
from sync.errors import ShiurError
from sync.importers import AS_CUES, IMPORT_MODES, import_result
from sync.writers import DEFAULT_OUTPUTS, CueText, SyncResult, folder_lock, write_outputs

from . import library, ownership, saving
from .auth import current_user, login_required
from .db import get_db

bp = Blueprint("archivist", __name__)

CATALOGUE_COLUMNS = (
    "slug", "title", "lecturer", "recorded_on", "language", "duration_s", "discourse", "discourse_slug",
    "status", "published", "created_at", "passages", "covered", "coverage_pct", "mean_confidence",
    "skipped_count", "cues", "model", "software", "source", "audio_file", "audio_sha256", "folder",
)  # fmt: skip


# --- building exports ------------------------------------------------------------------------


def download_name(slug: str, fmt: str, audio: Path | None = None) -> str:
    if fmt == "bundle":
        return f"{slug}.zip"
    if fmt == "audio":
        return f"{slug}{Path(audio_filename(audio or 'audio')).suffix}"
    return f"{slug}-{EXPORTS[fmt].filename}"


def recording_metadata(rec: library.Recording) -> dict[str, Any]:
    return {
        "slug": rec.slug,
        "title": rec.title,
        "lecturer": rec.lecturer,
        "recorded_on": rec.recorded_on,
        "duration": rec.duration,
        "discourse": rec.discourse_title,
        "discourse_slug": rec.discourse_slug,
        "status": rec.status,
        "published": rec.published,
        "created_at": rec.created_at,
    }


def corrections(conn: sqlite3.Connection, recording_id: int) -> list[dict[str, Any]]:
    """The lecturer's pins and the edit history (without undo snapshots), for provenance."""
    out: list[dict[str, Any]] = []
    try:
        for r in conn.execute("SELECT passage_id, start FROM pins WHERE recording_id = ? ORDER BY passage_id",
                              (recording_id,)):  # fmt: skip
            out.append({"kind": "pin", "passage_id": r["passage_id"], "start": r["start"]})
        for r in conn.execute(
            "SELECT action, passage_id, detail, undone, created_at FROM edits WHERE recording_id = ? ORDER BY id",
            (recording_id,),
        ):
            out.append({"kind": "edit", **{k: r[k] for k in r.keys()}})
    except sqlite3.OperationalError:
        # The lecturer tables are created by the lecturer section of schema.sql; a bare library has none.
        pass
    return out


def _discourse_for(conn: sqlite3.Connection, rec: library.Recording) -> Discourse:
    row = library.get_discourse(conn, rec.discourse_id) if rec.discourse_id is not None else None
    if row is None:
        raise ShiurError(f"recording {rec.slug}: it has no discourse text, so its cues cannot be exported")
    return library.parsed_discourse(row)


def recording_result(conn: sqlite3.Connection, library_dir: str | Path, rec: library.Recording) -> SyncResult:
    folder = library.recording_dir(library_dir, rec)
    result = load_result(folder, _discourse_for(conn, rec))
    result.meta["recording"] = recording_metadata(rec)
    result.meta["corrections"] = corrections(conn, rec.id)
    return result


def _audio_path(library_dir: str | Path, rec: library.Recording) -> Path | None:
    folder = library.recording_dir(library_dir, rec)
    for name in (rec.audio_path, rec.stream_path):
        if name and (folder / name).is_file():
            return folder / name
    return None


def export_recording(
    conn: sqlite3.Connection,
    library_dir: str | Path,
    rec: library.Recording,
    dest: str | Path,
    formats: Sequence[str],
    cue_text: CueText | str | None = None,
    left_out: list[str] | None = None,
) -> list[Path]:
    """Write the chosen exports of a library recording into ``dest``, named after its slug.

    With ``left_out`` (a list), a format this recording cannot give (the transcript of one
    aligned from imported cues, or the bundled sample made by speech synthesis) is skipped and
    named there with the reason, instead of stopping the export.
    """
    result = recording_result(conn, library_dir, rec)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="shiur-export-", dir=dest) as tmp:
        for fmt in parse_formats(formats):
            if left_out is not None and EXPORTS[fmt].needs_transcript and result.transcript is None:
                left_out.append(f"{EXPORTS[fmt].filename} (no transcript: the cues did not come from Whisper)")
                continue
            files = export_result(
                result,
                tmp,
                [fmt],
                cue_text=cue_text,
                audio=_audio_path(library_dir, rec),
                metadata=recording_metadata(rec),
            )
            target = dest / download_name(rec.slug, fmt, _audio_path(library_dir, rec))
            os.replace(files[0], target)
            written.append(target)
    return written


# --- catalogue -------------------------------------------------------------------------------


def catalogue_rows(conn: sqlite3.Connection, library_dir: str | Path, include_unpublished: bool = True,
                   hash_missing: bool = False) -> list[dict]:
    """One row per recording: its metadata and what its alignment says (coverage, confidence, model).

    ``audio_sha256`` is the hash stored when the audio came in; for recordings older than that,
    ``hash_missing`` (``shiur catalogue``) computes it once and stores it. The web page only shows
    what is stored, so a page view never reads gigabytes of audio.
    """
    sql = (
        "SELECT r.*, d.title AS discourse_title, d.slug AS discourse_slug, d.text AS discourse_text FROM recordings r"
        " LEFT JOIN discourses d ON d.id = r.discourse_id"
    )
    if not include_unpublished:
        sql += " WHERE r.published = 1"
    sql += " ORDER BY COALESCE(r.recorded_on, r.created_at), r.id"
    passages_of: dict[int, int] = {}
    rows = []
    for r in conn.execute(sql).fetchall():
        folder = Path(library_dir) / (r["outdir"] or r["slug"])
        summary = _alignment_summary(folder / "alignment.json")
        did = r["discourse_id"]
        if did is not None and did not in passages_of:
            passages_of[did] = len(parse_discourse(r["discourse_text"] or "").passages())
        n_passages = passages_of.get(did, 0) if did is not None else 0
        doc = summary is not None
        covered, confs, n_cues, n_skipped, meta = summary or (0, [], 0, 0, {})
        rows.append(
            {
                "slug": r["slug"],
                "title": r["title"],
                "lecturer": r["lecturer"],
                "recorded_on": r["recorded_on"] or "",
                "language": r["language"],
                "duration_s": round(r["duration"], 2) if r["duration"] is not None else "",
                "discourse": r["discourse_title"] or "",
                "discourse_slug": r["discourse_slug"] or "",
                "status": r["status"],
                "published": bool(r["published"]),
                "created_at": r["created_at"],
                "passages": n_passages,
                "covered": covered if doc else "",
                "coverage_pct": round(100.0 * covered / n_passages, 1) if doc and n_passages else "",
                "mean_confidence": round(sum(confs) / len(confs), 4) if confs else "",
                "skipped_count": n_skipped if doc else "",
                "cues": n_cues if doc else "",
                "model": meta.get("model", ""),
                "software": meta.get("software", ""),
                "source": meta.get("source") or ("whisper" if doc else ""),
                "audio_file": r["audio_path"] or "",
                "audio_sha256": _audio_sha256(conn, library_dir, r, meta, hash_missing),
                "folder": r["outdir"] or r["slug"],
            }
        )
    return rows


def _audio_sha256(conn: sqlite3.Connection, library_dir: str | Path, row: sqlite3.Row, meta: dict[str, Any],
                  hash_missing: bool) -> str:
    if row["audio_sha256"]:
        return str(row["audio_sha256"])
    if hash_missing:
        rec = library.get_recording(conn, int(row["id"]), include_unpublished=True)
        if rec is not None and (digest := library.ensure_audio_sha256(conn, library_dir, rec)):
            return digest
    return str(meta.get("audio_sha256") or "")


def _alignment_summary(path: Path) -> tuple[int, list[float], int, int, dict[str, Any]] | None:
    """(passages read, read-cue confidences, cues, skipped, meta) of an alignment.json, or None."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _summary_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4096)
def _summary_cached(path: str, _mtime_ns: int, _size: int) -> tuple[int, list[float], int, int, dict[str, Any]] | None:
    # Keyed by mtime and size: a catalogue of thousands of recordings re-reads only what changed.
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cues = doc.get("cues", [])
    read = [c for c in cues if c.get("kind", "read") == "read"]
    meta = {k: doc.get("meta", {}).get(k, "") for k in ("model", "software", "source", "audio_sha256")}
    covered = len({c["passage_id"] for c in read})
    return covered, [float(c.get("confidence", 0.0)) for c in read], len(cues), len(doc.get("skipped", [])), meta


FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell that starts with one of these as a formula (CSV injection)."""


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula gets a leading apostrophe (shown
    as text, the OWASP advice); numbers are left as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_LEAD):
        return "'" + value
    return value


def catalogue_csv(rows: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CATALOGUE_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in rows)
    # A BOM lets spreadsheet programs open Hebrew UTF-8 CSV correctly.
    return "\ufeff" + buf.getvalue()


def catalogue_json(rows: Sequence[dict]) -> str:
    from sync import __version__

    doc = {"software": f"shiur-sync {__version__}", "generated_at": _now(), "recordings": list(rows)}
    return json.dumps(doc, ensure_ascii=False, indent=1)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- attaching existing cues -----------------------------------------------------------------


def attach_cues(
    conn: sqlite3.Connection,
    library_dir: str | Path,
    rec: library.Recording,
    cue_path: str | Path,
    mode: str = AS_CUES,
    language: str | None = None,
) -> SyncResult:
    """Replace a recording's cues with an imported VTT/SRT (as cues, or as a transcript to align).

    The file is fully parsed and aligned before anything is touched; the files it replaces are
    kept in ``previous/<UTC time>/`` inside the recording's folder.
    """
    folder = library.recording_dir(library_dir, rec)
    discourse = _discourse_for(conn, rec)
    lang = language or _language(conn, rec.id)
    result = import_result(cue_path, discourse, mode, lang, duration=rec.duration)
    result.meta["recording"] = recording_metadata(rec)
    # One unit under the folder's lock, like a lecturer's edit: no reader sees old and new mixed.
    with folder_lock(folder):
        saving.recover(conn, folder, locked=True)
        backup = folder / "previous" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup.mkdir(parents=True, exist_ok=True)
        for name in DEFAULT_OUTPUTS:
            if (folder / name).is_file():
                shutil.copy2(folder / name, backup / name)
        write_outputs(result, folder, DEFAULT_OUTPUTS, locked=True)
        if result.transcript is None and (folder / "transcript.json").is_file():
            # The old transcript no longer matches these cues; it stays in the backup.
            (folder / "transcript.json").unlink()
    duration = rec.duration or result.alignment.duration
    conn.execute("UPDATE recordings SET status = 'ready', duration = ? WHERE id = ?", (duration, rec.id))
    conn.commit()
    return result


def _language(conn: sqlite3.Connection, recording_id: int) -> str:
    row = conn.execute("SELECT language FROM recordings WHERE id = ?", (recording_id,)).fetchone()
    return (row["language"] if row else None) or "he"


# --- a batch's results into the library ------------------------------------------------------

IMPORTED_LEDGER = "library-import.json"


def import_batch(
    conn: sqlite3.Connection, library_dir: str | Path, batch_dir: str | Path, published: bool = True
) -> list[dict[str, str]]:
    """Add every finished item of a ``shiur batch`` output folder to the library, once.

    ``library-import.json`` in the batch folder remembers what was added, so running it again
    after the batch is resumed adds only the new recordings.
    """
    from sync import atomic
    from sync.batch import DONE, load_state

    batch_dir = Path(batch_dir)
    state = load_state(batch_dir)
    if not state:
        raise ShiurError(f"{batch_dir}: not a batch output folder (no batch-state.json)")
    ledger_path = batch_dir / IMPORTED_LEDGER
    try:
        ledger: dict[str, str] = json.loads(ledger_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        ledger = {}
    except ValueError as e:
        raise ShiurError(f"{ledger_path}: damaged ({e}); move it away only if nothing was imported yet") from None
    out: list[dict[str, str]] = []
    for key, res in state.items():
        if res.status != DONE:
            continue
        if key in ledger and library.get_recording(conn, ledger[key], include_unpublished=True) is not None:
            out.append({"key": key, "slug": ledger[key], "status": "already in the library"})
            continue
        try:
            did = library.add_discourse_file(conn, Path(res.text))
            meta = res.metadata
            rec = library.import_recording(
                conn,
                Path(library_dir),
                batch_dir / key,
                Path(res.audio),
                did,
                title=meta.get("title") or key,
                lecturer=meta.get("lecturer", ""),
                recorded_on=meta.get("recorded_on") or None,
                published=published,
            )
            language = meta.get("language") or _batch_language(batch_dir / key)
            if language:
                conn.execute("UPDATE recordings SET language = ? WHERE id = ?", (language, rec.id))
                conn.commit()
        except ShiurError as e:
            out.append({"key": key, "slug": "", "status": f"failed: {e}"})
            continue
        ledger[key] = rec.slug
        atomic.write_json(ledger_path, ledger, indent=1)
        out.append({"key": key, "slug": rec.slug, "status": "added"})
    return out


def _batch_language(item_dir: Path) -> str | None:
    try:
        doc = json.loads((item_dir / "transcript.json").read_text(encoding="utf-8"))
        return doc.get("language") or None
    except (OSError, ValueError):
        return None


# --- web -------------------------------------------------------------------------------------


@bp.route("/r/<slug>/downloads")
def downloads(slug: str) -> str:
    rec = recording_or_404(slug)
    library_dir = current_app.config["LIBRARY_DIR"]
    folder = library.recording_dir(library_dir, rec)
    ready = (folder / "alignment.json").is_file()
    sizes: dict[str, tuple[int, bool]] = {}
    if ready:
        try:
            sizes = export_sizes(get_db(), library_dir, rec)
        except ShiurError:
            sizes = {}
    audio = _audio_path(library_dir, rec)
    formats = [
        {"fmt": f.name, "he": f.label_he, "en": f.label_en, "filename": download_name(rec.slug, f.name, audio),
         "cue_text": f.cue_text, "size": sizes[f.name][0], "approx": sizes[f.name][1]}
        for f in EXPORTS.values() if f.name in sizes
    ]
    return render_template("archivist_downloads.html", rec=rec, ready=ready, formats=formats, modes=IMPORT_MODES)


Sizes = dict[str, tuple[int, bool]]
_SIZES: dict[tuple[str, int, tuple[int, ...]], Sizes] = {}
SIZES_CACHED = 256
"""Recordings whose export sizes are remembered; any change to their files renders them again."""
ZIP_OVERHEAD_BYTES = 4096
"""Headers, directory and metadata.json of a bundle: a bound, not an estimate (each member costs ~100 bytes)."""


def export_sizes(conn: sqlite3.Connection, library_dir: str | Path, rec: library.Recording) -> Sizes:
    """Each available export's size in bytes (with the default cue text), and whether it is only a bound.

    The text exports are rendered once into a temporary folder; the figures are kept until the
    recording's files change. The bundle is not zipped again for this: its size is given as at
    most the sum of its parts (text shrinks in the zip; compressed audio is stored as it is).
    """
    folder = library.recording_dir(library_dir, rec)
    audio = _audio_path(library_dir, rec)
    raw = [folder / n for n in ("alignment.json", "transcript.json") if (folder / n).is_file()]
    stamp = tuple(p.stat().st_mtime_ns for p in raw) + ((audio.stat().st_size,) if audio else ())
    key = (str(library_dir), rec.id, stamp)
    if key in _SIZES:
        return _SIZES[key]
    result = recording_result(conn, library_dir, rec)
    sizes: Sizes = {}
    with tempfile.TemporaryDirectory(prefix="shiur-sizes-") as tmp:
        for f in EXPORTS.values():
            if f.writer is None or (f.needs_transcript and result.transcript is None):
                continue
            sizes[f.name] = (export_result(result, tmp, [f.name])[0].stat().st_size, False)
    text = sum(s for s, _ in sizes.values()) + sum(p.stat().st_size for p in raw)
    audio_size = audio.stat().st_size if audio else 0
    if audio:
        sizes["audio"] = (audio_size, False)
    sizes["bundle"] = (audio_size + text + ZIP_OVERHEAD_BYTES, True)
    if len(_SIZES) >= SIZES_CACHED:
        _SIZES.clear()
    _SIZES[key] = sizes
    return sizes


@bp.route("/r/<slug>/download/<fmt>")
def download(slug: str, fmt: str) -> Response:
    rec = recording_or_404(slug)
    if fmt not in EXPORTS:
        abort(404)
    library_dir = current_app.config["LIBRARY_DIR"]
    if fmt == "audio":
        # The original as it is, with Range support: no copy of a large file is made.
        audio = _audio_path(library_dir, rec)
        if audio is None:
            abort(404)
        return send_file(audio, mimetype=library.audio_type(audio) or "application/octet-stream", as_attachment=True,
                         download_name=download_name(rec.slug, fmt, audio), conditional=True)
    try:
        cue_text = CueText.parse(request.args.get("cue_text") or "text")
    except ValueError as e:
        abort(400, str(e))
    tmp = Path(tempfile.mkdtemp(prefix="shiur-download-"))
    try:
        try:
            path = export_recording(get_db(), library_dir, rec, tmp, [fmt], cue_text)[0]
        except ShiurError as e:
            abort(409, str(e))
        # Opened, then unlinked: the response streams the open file and nothing is left behind.
        handle = open(path, "rb")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mimetype = library.content_type(EXPORTS[fmt].mimetype)
    resp = send_file(handle, mimetype=mimetype, as_attachment=True, download_name=download_name(rec.slug, fmt))
    # Werkzeug already adds the charset to text/*; say it once, and for the other text formats too.
    resp.headers["Content-Type"] = mimetype
    return resp


@bp.route("/r/<slug>/attach", methods=["POST"])
@login_required
def attach(slug: str) -> Response:
    rec = recording_or_404(slug)
    ownership.require_manage(get_db(), rec.id, current_user())
    upload = request.files.get("file")
    mode = request.form.get("mode", AS_CUES)
    if upload is None or not upload.filename:
        flash("לא נבחר קובץ · No file chosen")
        return redirect(url_for("archivist.downloads", slug=slug))
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".vtt", ".srt"):
        flash(f"{upload.filename}: רק VTT או SRT · only .vtt or .srt files can be attached")
        return redirect(url_for("archivist.downloads", slug=slug))
    with tempfile.TemporaryDirectory(prefix="shiur-attach-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        try:
            result = attach_cues(get_db(), current_app.config["LIBRARY_DIR"], rec, path, mode)
        except ShiurError as e:
            flash(f"{upload.filename}: {str(e).split(': ', 1)[-1]}")
            return redirect(url_for("archivist.downloads", slug=slug))
    a = result.alignment
    flash(f"צורפו {len(a.cues)} קטעים · attached {len(a.cues)} cues ({len(a.skipped)} passages without a cue)")
    return redirect(url_for("archivist.downloads", slug=slug))


@bp.route("/catalogue")
def catalogue() -> str:
    rows = catalogue_rows(get_db(), current_app.config["LIBRARY_DIR"], include_unpublished=can_see_unpublished())
    return render_template("archivist_catalogue.html", rows=rows)


@bp.route("/catalogue.<any(csv, json):ext>")
def catalogue_file(ext: str) -> Response:
    rows = catalogue_rows(get_db(), current_app.config["LIBRARY_DIR"], include_unpublished=can_see_unpublished())
    if ext == "csv":
        body, mimetype = catalogue_csv(rows), "text/csv"
    else:
        body, mimetype = catalogue_json(rows), "application/json"
    resp = Response(body, content_type=library.content_type(mimetype))
    resp.headers["Content-Disposition"] = f"attachment; filename=shiur-catalogue.{ext}"
    return resp


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"archivist_downloads_url": lambda slug: url_for("archivist.downloads", slug=slug)}


# --- command line ----------------------------------------------------------------------------


def _cli_app_conn() -> tuple[Any, sqlite3.Connection]:
    from . import create_app
    from .db import connect

    app = create_app()
    return app, connect(app.config["DATABASE"])


def _cli_recording(conn: sqlite3.Connection, ref: str) -> library.Recording:
    rec = library.get_recording(conn, int(ref) if ref.isdigit() else ref, include_unpublished=True)
    if rec is None:
        raise ShiurError(f"{ref}: no such recording in the library (give its slug or id; see `shiur catalogue`)")
    return rec


@click.command("export")
@click.argument("recording")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the files into (created if missing).")
@click.option("-f", "--format", "formats", default="all", show_default=True, metavar="LIST",
              help=f"Comma-separated: {', '.join(EXPORTS)}, or all (all but audio, which the bundle holds).")
@click.option("--cue-text", default="text", show_default=True, metavar="SPEC",
              help="What each passage cue shows: text (the passage), id (p3.2), words or words:N (first N words).")
def export_cmd(recording: str, outdir: Path, formats: str, cue_text: str) -> None:
    """Export a library RECORDING (slug or id): VTT, chapters, SRT, full JSON, transcript, ZIP bundle."""
    try:
        spec = CueText.parse(cue_text)
    except ValueError as e:
        raise ShiurError(str(e)) from None
    app, conn = _cli_app_conn()
    try:
        rec = _cli_recording(conn, recording)
        left_out: list[str] = []
        files = export_recording(conn, app.config["LIBRARY_DIR"], rec, outdir, parse_formats(formats), spec,
                                 left_out=left_out)  # fmt: skip
    finally:
        conn.close()
    if not files:
        # Nothing at all could be exported: the one case that is an error (exit status 2).
        raise ShiurError(f"{rec.slug}: nothing to export ({'; '.join(left_out)})")
    click.echo(f"wrote {len(files)} files for {rec.slug}:")
    for f in files:
        click.echo(f"  {f}")
    for item in left_out:
        click.echo(f"left out: {item}", err=True)


@click.command("catalogue")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output). The format follows its extension.")
@click.option("-f", "--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="csv or json (default: from --output's extension, else csv).")
@click.option("--published-only", is_flag=True, help="Leave out drafts.")
def catalogue_cmd(output: Path | None, fmt: str | None, published_only: bool) -> None:
    """The whole library's metadata as CSV or JSON: one row per recording."""
    fmt = fmt or (output.suffix.lower().lstrip(".") if output and output.suffix.lower() in (".csv", ".json")
                  else "csv")  # fmt: skip
    app, conn = _cli_app_conn()
    try:
        rows = catalogue_rows(conn, app.config["LIBRARY_DIR"], include_unpublished=not published_only,
                              hash_missing=True)
    finally:
        conn.close()
    body = catalogue_csv(rows) if fmt == "csv" else catalogue_json(rows)
    if output is None:
        click.echo(body.lstrip("\ufeff"), nl=False)
    else:
        atomic.write_text(output, body)
        click.echo(f"wrote {len(rows)} recordings to {output}", err=True)


@click.command("attach")
@click.argument("recording")
@click.argument("cue_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "mode", type=click.Choice(IMPORT_MODES), default=AS_CUES, show_default=True,
              help="cues: the file's cues become the recording's cues. "
                   "transcript: its text replaces Whisper's and is aligned to the discourse.")
@click.option("--language", default=None, help="Language of the cue text (default: the recording's).")
def attach_cmd(recording: str, cue_file: Path, mode: str, language: str | None) -> None:
    """Attach an existing VTT or SRT (hand-made or from another tool) to a library RECORDING."""
    app, conn = _cli_app_conn()
    try:
        rec = _cli_recording(conn, recording)
        result = attach_cues(conn, app.config["LIBRARY_DIR"], rec, cue_file, mode, language)
    finally:
        conn.close()
    a = result.alignment
    click.echo(f"attached {len(a.cues)} cues to {rec.slug} ({len(a.skipped)} passages without a cue); "
               "the replaced files are kept under previous/")
    for u in a.meta.get("unmatched", []):
        click.echo(f"  not matched to any passage: {u}", err=True)


@click.command("import-batch")
@click.argument("batch_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--draft", is_flag=True, help="Add them unpublished (hidden from listeners until published).")
def import_batch_cmd(batch_dir: Path, draft: bool) -> None:
    """Add the finished recordings of a `shiur batch` output folder to the web library (each once)."""
    app, conn = _cli_app_conn()
    try:
        rows = import_batch(conn, app.config["LIBRARY_DIR"], batch_dir, published=not draft)
    finally:
        conn.close()
    for r in rows:
        click.echo(f"{r['key']}\t{r['slug']}\t{r['status']}")
    added = sum(1 for r in rows if r["status"] == "added")
    click.echo(f"{added} recordings added to the library", err=True)
