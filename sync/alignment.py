"""Alignment -> Cue: when each passage is read or explained, with a confidence.

A cue is *read* while the lecturer reads the passage's words, and *explained* while he talks
about it afterwards (the highlight stays on the passage, marked as discussion). Paragraph cues
(chapters) are derived from passage cues.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

READ = "read"
EXPLAINED = "explained"


@dataclass
class WordTiming:
    index: int
    """Position in the passage's ``tokens``."""
    start: float
    end: float


@dataclass
class Cue:
    passage_id: str
    start: float
    end: float
    kind: str = READ
    confidence: float = 0.0
    words: list[WordTiming] = field(default_factory=list)
    pinned: bool = False

    @property
    def paragraph_id(self) -> str:
        return self.passage_id.split(".")[0]



DOUBTFUL_BELOW = 0.7
"""A decision with less confidence than this is doubtful: the review page lists it first.
Chosen on the tuned corpus cases (issue 18): the readings that started wrong scored 0.50 and
0.65, every reading heard and placed right 0.78 or more; a passage filled in unheard scores
``AlignParams.filled_confidence`` (0.25), doubtful by design."""


@dataclass
class Decision:
    """What the aligner decided about one passage: read (where its first read cue says) or
    never read, and how sure it is. For a read passage the confidence is its reading's (how
    much of it was heard, how well); for a skipped one, how far the best candidate reading of
    it found anywhere fell short of a reading's evidence (1.0: its words were never heard in
    order)."""

    passage_id: str
    read: bool
    confidence: float

    @property
    def doubtful(self) -> bool:
        return self.confidence < DOUBTFUL_BELOW

    def to_dict(self) -> dict[str, Any]:
        return {"passage_id": self.passage_id, "read": self.read, "confidence": self.confidence,
                "doubtful": self.doubtful}  # fmt: skip


@dataclass
class Span:
    start: float
    end: float


@dataclass
class Pin:
    """A lecturer's correction: the passage starts at ``start``, or was not read (``start`` None)."""

    passage_id: str
    start: float | None = None


@dataclass
class Alignment:
    cues: list[Cue] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    off_text: list[Span] = field(default_factory=list)
    duration: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    """model, options, software version, corrections: whatever produced this alignment."""
    decisions: list[Decision] = field(default_factory=list)
    """One per passage of the discourse, in text order."""

    def read_cues(self) -> list[Cue]:
        return [c for c in self.cues if c.kind == READ]

    def doubtful(self) -> list[Decision]:
        """The decisions to look at first, least confident first."""
        return sorted((d for d in self.decisions if d.doubtful), key=lambda d: d.confidence)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decisions"] = [x.to_dict() for x in self.decisions]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alignment:
        cues = [
            Cue(
                passage_id=c["passage_id"],
                start=c["start"],
                end=c["end"],
                kind=c.get("kind", READ),
                confidence=c.get("confidence", 0.0),
                words=[WordTiming(**w) for w in c.get("words", [])],
                pinned=c.get("pinned", False),
            )
            for c in d.get("cues", [])
        ]
        return cls(
            cues=cues,
            skipped=list(d.get("skipped", [])),
            off_text=[Span(**s) for s in d.get("off_text", [])],
            duration=d.get("duration", 0.0),
            meta=d.get("meta", {}),
            decisions=[
                Decision(x["passage_id"], bool(x["read"]), float(x["confidence"])) for x in d.get("decisions", [])
            ],
        )

    @classmethod
    def load(cls, path: Path) -> Alignment:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def cue_ids(cues: list[Cue]) -> list[str]:
    """Unique WebVTT identifiers for cues in file order.

    The first reading of a passage is its id (``p3.2``); a re-reading adds ``.r2``, ``.r3``; an
    explanation adds ``.x`` (then ``.x2``...). Any consumer can recover the passage with
    ``^(p\\d+\\.\\d+)`` and the kind from the suffix, and ``^p(\\d+)`` gives the paragraph.
    """
    seen: dict[tuple[str, str], int] = {}
    out = []
    for c in cues:
        n = seen[(c.passage_id, c.kind)] = seen.get((c.passage_id, c.kind), 0) + 1
        if c.kind == READ:
            out.append(c.passage_id if n == 1 else f"{c.passage_id}.r{n}")
        else:
            out.append(f"{c.passage_id}.x" if n == 1 else f"{c.passage_id}.x{n}")
    return out
