"""Align a transcript to a discourse: which passage is read or explained at every moment.

Public entry point: :func:`align`. The implementation is being written (issue 4); this first
version is a placeholder that raises so nobody builds on a fake result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .alignment import Alignment, Pin
from .discourse import Discourse
from .transcript import Transcript


@dataclass
class AlignOptions:
    refine: bool = True
    """Run the fine pass (forced alignment inside read spans) when audio and a model are given."""
    lattice: bool = True
    """Use the spoken-form lattice (abbreviations expanded) when matching."""


def align(
    discourse: Discourse,
    transcript: Transcript,
    pins: Sequence[Pin] = (),
    audio: np.ndarray | None = None,
    model: object | None = None,
    options: AlignOptions | None = None,
) -> Alignment:
    """Align ``transcript`` to ``discourse``.

    ``audio`` is the 16 kHz mono float32 signal and ``model`` a loaded faster-whisper
    ``WhisperModel``; with both, read spans are refined by forced alignment. ``pins`` are the
    lecturer's corrections, honoured exactly; the rest is re-aligned around them.
    """
    raise NotImplementedError("aligner under construction")
