"""``shiur text``: what Shiur Sync makes of a discourse text, before any audio is involved.

A lecturer checks a text before uploading it: how it splits into paragraphs and passages (the ids
cues will carry), what was taken as front matter, where the footnote markers were, how each
passage will be read aloud, and which abbreviations the table does not know.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import click

from .abbreviations import AbbreviationTable
from .discourse import Discourse, Passage, load_discourse
from .hebrew import token_core
from .spoken import abbreviation_sources, discourse_tokens, read_token, token_alternatives, unknown_abbreviations

_TRAILING_PUNCT = re.compile(r"[.,;:!?)\]]+$")
_TO_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}


def display_word(key: str) -> str:
    """A normalised key shown as Hebrew is printed: final letter forms restored."""
    if len(key) > 1 and key[-1] in _TO_FINAL and "\u05d0" <= key[-2] <= "\u05ea":
        return key[:-1] + _TO_FINAL[key[-1]]
    return key


def display_phrase(words: tuple[str, ...]) -> str:
    return " ".join(display_word(w) for w in words)


def spoken_line(passage: Passage, table: AbbreviationTable | None = None) -> str:
    """The passage as it will be matched: abbreviations replaced by {spoken|alternatives};
    an abbreviation nobody knows is shown as {?written}."""
    out: list[str] = []
    for tok in passage.tokens:
        tail = _TRAILING_PUNCT.search(tok)
        punct = tail.group(0) if tail else ""
        readings = read_token(tok, table)
        if all(r.source in ("plain", "empty") for r in readings):
            out.append(tok)
            continue
        if any(r.source == "unknown" for r in readings):
            out.append("{?" + token_core(tok) + "}" + punct)
            continue
        alts = token_alternatives(tok, table)
        if not all(r.said_as_written for r in readings if r.source not in ("plain", "empty")):
            alts = alts[1:]
        out.append("{" + "|".join(display_phrase(a) for a in alts) + "}" + punct)
    return " ".join(out)


def _numeral_only(discourse: Discourse, table: AbbreviationTable | None) -> collections.Counter[str]:
    """Gershayim words read only as letter numerals: usually right (ל"ב), but an unlisted acronym
    whose letters happen to form a number lands here too, so they are shown for checking."""
    counts: collections.Counter[str] = collections.Counter()
    for tok in discourse_tokens(discourse):
        for r in read_token(tok, table):
            if r.source == "numeral" and '"' in r.core:
                counts[r.core] += 1
    return counts


def describe(
    discourse: Discourse,
    name: str | None = None,
    spoken: bool = False,
    unknown: bool = False,
    table: AbbreviationTable | None = None,
) -> str:
    """A plain-text report of a parsed discourse (structure; with ``spoken`` how each passage is
    read; with ``unknown`` only the abbreviations the table does not know)."""
    lines: list[str] = []
    passages = discourse.passages()
    sources = abbreviation_sources(discourse, table)
    unknown_counts = unknown_abbreviations(discourse, table)
    n_abbr = sum(sources.values())
    if name:
        lines.append(f"Text: {name}")
    lines.append(
        f"Paragraphs: {len(discourse.paragraphs)}  Passages: {len(passages)}  Words: {discourse.word_count()}  "
        f"Footnote markers: {len(discourse.footnotes())}"
    )
    detail = ", ".join(f"{k} {v}" for k, v in sorted(sources.items(), key=lambda kv: -kv[1]))
    lines.append(
        f"Abbreviations: {n_abbr} tokens ({detail or 'none'}); unknown: {sum(unknown_counts.values())} "
        f"tokens, {len(unknown_counts)} distinct"
    )

    if unknown and not spoken:
        lines.append("")
        lines += _unknown_report(unknown_counts, _numeral_only(discourse, table))
        return "\n".join(lines) + "\n"

    lines.append("")
    if discourse.front_matter:
        lines.append("Front matter (not numbered, not aligned):")
        for block in discourse.front_matter:
            lines.append(f"  | {' '.join(block.split())}")
            if spoken:
                fake = Passage(id="", paragraph=0, index=0, text=block, tokens=block.split())
                lines.append(f"    spoken: {spoken_line(fake, table)}")
    else:
        lines.append("Front matter: none")
    for para in discourse.paragraphs:
        words = sum(len(p.tokens) for p in para.passages)
        section = f"  section {para.section})" if para.section else ""
        lines.append("")
        lines.append(f"{para.id}{section}  {len(para.passages)} passages, {words} words")
        for p in para.passages:
            notes = ""
            if p.footnotes:
                marks = ", ".join(f"[{f.number}] after {token_core(p.tokens[f.token_index])}" for f in p.footnotes)
                notes = f"  footnotes: {marks}"
            lines.append(f"  {p.id:<8} ({len(p.tokens)} words){notes}")
            lines.append(f"    {p.text}")
            if spoken:
                lines.append(f"    spoken: {spoken_line(p, table)}")
    if discourse.back_matter:
        lines.append("")
        lines.append("Back matter (notes, not aligned):")
        for block in discourse.back_matter:
            lines.append(f"  | {' '.join(block.split())}")
    if unknown:
        lines.append("")
        lines += _unknown_report(unknown_counts, _numeral_only(discourse, table))
    return "\n".join(lines) + "\n"


def _unknown_report(unknown_counts: collections.Counter[str], numerals: collections.Counter[str]) -> list[str]:
    lines: list[str] = []
    if unknown_counts:
        lines.append("Unknown abbreviations (matched only as written; add them to the table):")
        for core, n in sorted(unknown_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n:>4}  {core}")
    else:
        lines.append("Unknown abbreviations: none")
    if numerals:
        lines.append("Read only as letter numerals (check these):")
        for core, n in sorted(numerals.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n:>4}  {core}")
    return lines


@click.command("text")
@click.argument("text", type=click.Path(path_type=Path))
@click.option("--spoken", is_flag=True, help="Show how each passage will be read aloud (abbreviations expanded).")
@click.option("--unknown", is_flag=True, help="List abbreviation-like tokens the table does not know, with counts.")
def text_command(text: Path, spoken: bool, unknown: bool) -> None:
    """Show how TEXT is parsed: front matter, paragraphs, passage ids, footnote markers.

    הצגת מבנה הטקסט: פסקאות, קטעים, הערות, וראשי תיבות.
    """
    discourse = load_discourse(text)
    click.echo(describe(discourse, name=str(text), spoken=spoken, unknown=unknown), nl=False)
