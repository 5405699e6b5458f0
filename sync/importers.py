"""Import an existing WebVTT or SRT file: as a recording's cues, or as its transcript.

Archivists hold subtitles made by hand or by other tools. A file whose cue ids follow our scheme
(``p3.2``, re-reading ``p3.2.r2``, explanation ``p3.2.x``) maps straight to passages; cues without
such ids are matched to passages by their text. Used as a transcript instead, each cue becomes a
segment whose words get times interpolated across the cue, and the aligner does the rest.

The parser is our own rather than webvtt-py's: webvtt-py rounds times to whole seconds in its
public API and reports malformed files without a line number, and an archivist needs both.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from .alignment import EXPLAINED, READ, Alignment, Cue
from .discourse import Discourse
from .errors import ShiurError
from .hebrew import normalize
from .transcript import Segment, Transcript, Word
from .writers import SyncResult

VTT = "vtt"
SRT = "srt"

MAX_CUE_FILE_BYTES = 20 * 1024 * 1024

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+(.*))?$")
_TAG = re.compile(r"<[^>]*>")
_CUE_ID = re.compile(r"^(p\d+\.\d+)(?:\.(r|x)(\d*))?$")
_PARAGRAPH_ID = re.compile(r"^p\d+$")
_ELLIPSIS = re.compile(r"\s*(…|\.\.\.)\s*$")


@dataclass
class ImportedCue:
    start: float
    end: float
    text: str
    """The cue payload as written (may hold markup such as ``<v Speaker>``)."""
    id: str | None = None
    line: int = 0
    """1-based line of the timing line in the source, for messages."""

    @property
    def plain(self) -> str:
        """Text without markup or entities, lines joined by spaces."""
        return " ".join(html.unescape(_TAG.sub("", self.text)).split())


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    # "5" after the separator means 500 ms, as every player reads it.
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def detect_format(text: str, name: str = "") -> str:
    """``"vtt"`` or ``"srt"`` from the content (the extension is only a hint)."""
    head = text.lstrip("\ufeff").lstrip()
    if head.startswith("WEBVTT"):
        return VTT
    first_timing = next((ln for ln in head.splitlines() if "-->" in ln), "")
    if first_timing:
        return SRT if "," in first_timing.split("-->")[0] else VTT
    if name.lower().endswith(".vtt"):
        raise ShiurError(f"{name}: not a WebVTT file (it must start with the line 'WEBVTT')")
    raise ShiurError(f"{name or 'cue file'}: not a WebVTT or SRT file (no 'start --> end' timing line found)")


def parse_cues(text: str, name: str = "cue file") -> list[ImportedCue]:
    """Parse WebVTT or SRT text into cues, in file order.

    Raises :class:`ShiurError` naming the file and line for a malformed timing line or a cue that
    ends before it starts.
    """
    fmt = detect_format(text, name)
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[ImportedCue] = []
    i = 0
    if fmt == VTT:
        # Header block: "WEBVTT" plus optional header lines, up to the first blank line.
        while i < len(lines) and lines[i].strip():
            i += 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block_start = i
        block: list[str] = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        first = block[0].strip()
        if fmt == VTT and (first.startswith("NOTE") or first in ("STYLE", "REGION")) and "-->" not in first:
            continue
        timing_at = next((k for k, ln in enumerate(block) if "-->" in ln), None)
        if timing_at is None or timing_at > 1:
            raise ShiurError(f"{name}: line {block_start + 1}: expected a cue timing line 'start --> end'")
        m = _TIMING.match(block[timing_at])
        line_no = block_start + timing_at + 1
        if not m:
            raise ShiurError(f"{name}: line {line_no}: malformed cue timing {block[timing_at].strip()!r}")
        start = _seconds(*m.group(1, 2, 3, 4))
        end = _seconds(*m.group(5, 6, 7, 8))
        if end < start:
            raise ShiurError(f"{name}: line {line_no}: cue ends ({end:.3f}s) before it starts ({start:.3f}s)")
        ident = block[0].strip() if timing_at == 1 else None
        if fmt == SRT and ident is not None and ident.isdigit():
            # SRT indices are sequence numbers, not identifiers: keep passage ids only if someone put them there.
            ident = None
        cues.append(ImportedCue(start=start, end=end, text="\n".join(block[timing_at + 1 :]), id=ident, line=line_no))
    return cues


def read_cues(path: str | Path) -> list[ImportedCue]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ShiurError(f"{p}: cue file not found") from None
    except IsADirectoryError:
        raise ShiurError(f"{p}: is a folder, not a VTT or SRT file") from None
    if len(data) > MAX_CUE_FILE_BYTES:
        raise ShiurError(f"{p}: {len(data) / 1e6:.1f} MB is too large for a subtitle file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ShiurError(f"{p}: not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8") from None
    return parse_cues(text, str(p))


# --------------------------------------------------------------------------- as cues


def _words(text: str) -> list[str]:
    return [w for w in (normalize(t) for t in text.split()) if w]


def _text_score(cue_words: list[str], passage_words: list[str]) -> float:
    """How well a cue's text stands for a passage: whole text, or its first words."""
    if not cue_words or not passage_words:
        return 0.0
    if passage_words[: len(cue_words)] == cue_words:
        return 1.0
    have = set(passage_words)
    hit = sum(1 for w in cue_words if w in have)
    return hit / max(len(cue_words), min(len(passage_words), 2 * len(cue_words)))


def _match_by_text(cue: ImportedCue, passage_words: list[list[str]], index: dict[str, int], after: int) -> int | None:
    text = _ELLIPSIS.sub("", cue.plain)
    m = _CUE_ID.match(text)
    if m:
        return index.get(m.group(1))
    cue_words = _words(text)
    best, best_score = None, 0.5
    for k, words in enumerate(passage_words):
        score = _text_score(cue_words, words)
        # A lecture moves forward through the text: on a tie prefer the first passage after the last match.
        bonus = 0.01 if k > after else 0.0
        if score + bonus > best_score:
            best, best_score = k, score + bonus
    return best


def cues_to_alignment(
    cues: Sequence[ImportedCue], discourse: Discourse, duration: float | None = None, source: str = ""
) -> Alignment:
    """Turn imported cues into an :class:`Alignment` over ``discourse``.

    A cue id ``p<N>.<M>`` (optionally ``.r<K>`` / ``.x<K>``) names its passage and kind; other cues
    are matched by text (full passage text, its first words, or the bare passage id). Cues that
    match no passage are listed in ``meta["unmatched"]``; a file where nothing matches is an error.
    """
    passages = discourse.passages()
    index = {p.id: k for k, p in enumerate(passages)}
    paragraph_ids = {p.id for p in discourse.paragraphs}
    passage_words: list[list[str]] | None = None  # normalised once, only if some cue needs text matching
    out: list[Cue] = []
    unmatched: list[str] = []
    last = -1
    for cue in cues:
        kind = READ
        k: int | None = None
        m = _CUE_ID.match(cue.id or "")
        if m and m.group(1) in index:
            k = index[m.group(1)]
            kind = EXPLAINED if m.group(2) == "x" else READ
        elif cue.id and _PARAGRAPH_ID.match(cue.id) and cue.id in paragraph_ids:
            raise ShiurError(
                f"{source or 'cue file'}: line {cue.line}: cue {cue.id!r} is a paragraph (chapters) cue; "
                "import the passages file instead"
            )
        else:
            if passage_words is None:
                passage_words = [_words(p.text) for p in passages]
            k = _match_by_text(cue, passage_words, index, last)
        if k is None:
            unmatched.append(f"line {cue.line}: {cue.id or cue.plain[:40]!r}")
            continue
        last = max(last, k)
        out.append(
            Cue(passage_id=passages[k].id, start=cue.start, end=cue.end, kind=kind, confidence=1.0, pinned=False)
        )
    if not out:
        raise ShiurError(f"{source or 'cue file'}: no cue matches a passage of the text (by id or by text)")
    read = {c.passage_id for c in out if c.kind == READ}
    end = max(c.end for c in out)
    meta = {"source": "import", "imported_from": Path(source).name if source else "", "unmatched": unmatched}
    return Alignment(
        cues=out,
        skipped=[p.id for p in passages if p.id not in read],
        duration=max(duration or 0.0, end),
        meta=meta,
    )


# --------------------------------------------------------------------------- as transcript


def cues_to_transcript(
    cues: Sequence[ImportedCue], language: str = "he", duration: float | None = None, source: str = ""
) -> Transcript:
    """A :class:`Transcript` from cue texts, for aligning without running Whisper.

    Word times are interpolated inside each cue in proportion to word length (plus one for the
    gap), which is what a reader's pace looks like at this resolution.
    """
    segments: list[Segment] = []
    for cue in cues:
        tokens = cue.plain.split()
        if not tokens:
            continue
        weights = [len(t) + 1 for t in tokens]
        total = sum(weights)
        span = cue.end - cue.start
        words: list[Word] = []
        t = cue.start
        for tok, w in zip(tokens, weights, strict=True):
            nxt = t + span * w / total
            words.append(Word(start=round(t, 3), end=round(nxt, 3), text=" " + tok, probability=1.0))
            t = nxt
        segments.append(Segment(start=cue.start, end=cue.end, text=" " + " ".join(tokens), words=words))
    if not segments:
        raise ShiurError(f"{source or 'cue file'}: no cue has any text to use as a transcript")
    end = max(s.end for s in segments)
    return Transcript(
        duration=max(duration or 0.0, end),
        language=language,
        segments=segments,
        model=f"import:{Path(source).name}" if source else "import",
        options={"source": "import"},
    )


# --------------------------------------------------------------------------- into an output folder

AS_CUES = "cues"
AS_TRANSCRIPT = "transcript"
IMPORT_MODES = (AS_CUES, AS_TRANSCRIPT)


def import_result(
    cue_path: str | Path,
    discourse: Discourse,
    mode: str = AS_CUES,
    language: str = "he",
    duration: float | None = None,
) -> SyncResult:
    """Read a VTT/SRT file and turn it into a :class:`SyncResult` for ``discourse``.

    ``cues``: the file's cues are the alignment (no transcript). ``transcript``: its text is the
    transcript, aligned to the discourse by :func:`sync.align.align` as if Whisper had heard it.
    """
    from . import __version__
    from .align import align

    if mode not in IMPORT_MODES:
        raise ShiurError(f"import mode must be one of {', '.join(IMPORT_MODES)}, not {mode!r}")
    cues = read_cues(cue_path)
    name = str(cue_path)
    meta = {
        "software": f"shiur-sync {__version__}",
        "source": "import",
        "imported_from": Path(name).name,
        "import_mode": mode,
    }
    if mode == AS_CUES:
        alignment = cues_to_alignment(cues, discourse, duration, source=name)
        return SyncResult(discourse, alignment, None, meta)
    transcript = cues_to_transcript(cues, language, duration, source=name)
    alignment = align(discourse, transcript)
    meta.update({"model": transcript.model, "options": transcript.options, "language": language})
    return SyncResult(discourse, alignment, transcript, meta)


def import_to_folder(
    cue_path: str | Path, text_path: str | Path, outdir: str | Path, mode: str = AS_CUES, language: str = "he"
) -> tuple[SyncResult, list[Path]]:
    """Import and write the standard outputs (passages.vtt, paragraphs.vtt, alignment.json, ...)."""
    from .discourse import load_discourse
    from .writers import write_outputs

    result = import_result(cue_path, load_discourse(text_path), mode, language)
    return result, write_outputs(result, outdir)


@click.command("import-cues")
@click.argument("cue_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for passages.vtt, paragraphs.vtt, alignment.json (and transcript.json).")
@click.option("--as", "mode", type=click.Choice(IMPORT_MODES), default=AS_CUES, show_default=True,
              help="cues: the file's cues are the passages' times (ids p<N>.<M>, or matched by text). "
                   "transcript: use its text instead of Whisper and align it to TEXT.")
@click.option("--language", default="he", show_default=True, help="Language of the cue text (for --as transcript).")
def import_command(cue_file: Path, text: Path, outdir: Path, mode: str, language: str) -> None:
    """Import an existing WebVTT or SRT file (hand-made or from another tool) for the discourse TEXT."""
    result, files = import_to_folder(cue_file, text, outdir, mode, language)
    a = result.alignment
    unmatched = a.meta.get("unmatched", [])
    click.echo(f"imported {len(a.cues)} cues ({len(a.read_cues())} readings), {len(a.skipped)} passages without a cue")
    for u in unmatched:
        click.echo(f"  not matched to any passage: {u}", err=True)
    for f in files:
        click.echo(f"  {f}")
