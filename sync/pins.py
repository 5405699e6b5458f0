"""The lecturer's pins: the one rule for applying a correction to an alignment.

A pin says "this passage starts at T" or "this passage was not read" (``Pin.start`` None). The
review page applies a pin to the alignment it shows, and the aligner applies the same pins when
it re-aligns (``shiur align --pin``, the web re-align job), through these functions, so a
correction looks the same before and after a re-alignment.

The rule for a start pin: the passage's reading nearest to T is the one the lecturer corrected;
it now starts exactly at T (if it ended before T it keeps its length, up to the next cue). A
passage without a reading gets one. Any other cue running over T ends there, so cues never
overlap, and word timings outside the moved cue are dropped (they belonged to the old placement).
"""

from __future__ import annotations

from collections.abc import Sequence

from .alignment import READ, Alignment, Cue, Decision, Pin

MIN_CUE_S = 0.5
"""Shortest reading a pin makes; a cue is at least this long so the player can show it."""
NEW_CUE_S = 5.0
"""Length of a reading created by a pin when nothing follows it to end it."""


def apply_start(cues: list[Cue], passage_id: str, t: float, duration: float = 0.0) -> list[Cue]:
    """Apply one start pin to ``cues``; returns the cues sorted by start (empty ones dropped)."""
    t = round(max(0.0, min(t, duration or t)), 3)
    readings = [c for c in cues if c.passage_id == passage_id and c.kind == READ]
    target = min(readings, key=lambda c: abs(c.start - t)) if readings else None
    later = sorted(c.start for c in cues if c.start > t and c is not target)
    if target is None:
        end = later[0] if later else (duration or t + NEW_CUE_S)
        target = Cue(passage_id=passage_id, start=t, end=round(max(end, t + MIN_CUE_S), 3), kind=READ)
        cues.append(target)
    else:
        length = max(target.end - target.start, MIN_CUE_S)
        target.start = t
        if target.end <= t:
            target.end = round(min(later[0], t + length) if later else t + length, 3)
        target.words = [w for w in target.words if target.start <= w.start < target.end]
    target.pinned = True
    target.confidence = 1.0
    for other in cues:
        if other is not target and other.start < t < other.end:
            other.end = t
    out = [c for c in cues if c.end > c.start]
    out.sort(key=lambda c: c.start)
    return out


def apply_not_read(alignment: Alignment, passage_id: str) -> None:
    """The passage was not read: its readings go, and it is listed as skipped."""
    alignment.cues = [c for c in alignment.cues if not (c.passage_id == passage_id and c.kind == READ)]
    if passage_id not in alignment.skipped:
        alignment.skipped.append(passage_id)
    _decided(alignment, passage_id, read=False)


def _decided(alignment: Alignment, passage_id: str, read: bool) -> None:
    """The lecturer's word is certain: the passage's decision is no longer doubtful."""
    for k, d in enumerate(alignment.decisions):
        if d.passage_id == passage_id:
            alignment.decisions[k] = Decision(passage_id, read, 1.0)


def apply_pin(alignment: Alignment, pin: Pin) -> Pin:
    """Apply one pin to a finished alignment (the review page's edit); returns the pin as
    applied (its start clipped to the recording), which is what to store for a re-alignment."""
    if pin.start is None:
        apply_not_read(alignment, pin.passage_id)
        return pin
    t = round(max(0.0, min(pin.start, alignment.duration or pin.start)), 3)
    alignment.cues = apply_start(alignment.cues, pin.passage_id, t, alignment.duration)
    if pin.passage_id in alignment.skipped:
        alignment.skipped.remove(pin.passage_id)
    _decided(alignment, pin.passage_id, read=True)
    return Pin(pin.passage_id, t)


def apply_start_pins(cues: list[Cue], pins: Sequence[Pin], duration: float = 0.0) -> list[Cue]:
    """Apply every start pin to the aligner's read cues (not-read pins are honoured earlier,
    by keeping the aligner off those passages)."""
    for pin in pins:
        if pin.start is not None:
            cues = apply_start(cues, pin.passage_id, pin.start, duration)
    return cues


def parse_pin(spec: str) -> Pin:
    """``p2.1=12.5`` (starts at 12.5 s), ``p2.1=1:02.5`` or ``p3.1=none`` (not read)."""
    pid, sep, value = spec.partition("=")
    if not sep or not pid.strip():
        raise ValueError(f"pin {spec!r}: write PASSAGE=SECONDS (p2.1=12.5) or PASSAGE=none")
    value = value.strip().lower()
    if value in ("none", "not-read", "-"):
        return Pin(pid.strip(), None)
    try:
        seconds = 0.0
        for part in value.split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise ValueError(f"pin {spec!r}: {value!r} is not a time in seconds") from None
    if seconds < 0:
        raise ValueError(f"pin {spec!r}: a time cannot be negative")
    return Pin(pid.strip(), seconds)
