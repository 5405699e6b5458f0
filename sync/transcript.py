"""Transcript -> Segment -> Word: what Whisper heard, with times in seconds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class Transcript:
    duration: float
    language: str
    segments: list[Segment] = field(default_factory=list)
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    audio_sha256: str = ""

    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def text(self) -> str:
        return "\n".join(s.text.strip() for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        segs = [
            Segment(
                start=s["start"],
                end=s["end"],
                text=s["text"],
                words=[Word(**w) for w in s.get("words", [])],
                avg_logprob=s.get("avg_logprob", 0.0),
                no_speech_prob=s.get("no_speech_prob", 0.0),
            )
            for s in d.get("segments", [])
        ]
        return cls(
            duration=d["duration"],
            language=d.get("language", ""),
            segments=segs,
            model=d.get("model", ""),
            options=d.get("options", {}),
            audio_sha256=d.get("audio_sha256", ""),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Transcript:
        from .errors import ShiurError

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except FileNotFoundError:
            raise ShiurError(f"{path}: transcript file not found") from None
        except (ValueError, KeyError, TypeError) as e:
            raise ShiurError(f"{path}: not a Shiur Sync transcript JSON ({e})") from None
