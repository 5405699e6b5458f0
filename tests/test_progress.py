"""The CLI progress bar: audio time done / total with an ETA, readable in logs too."""

from __future__ import annotations

import io

from sync.progress import Progress, clock


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_clock():
    assert clock(0) == "0:00"
    assert clock(65.4) == "1:05"
    assert clock(3 * 3600 + 62) == "3:01:02"


def test_log_output_prints_every_tenth():
    out = io.StringIO()
    bar = Progress(total=1000.0, stream=out)
    for t in range(0, 1001, 5):
        bar.update(float(t))
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    bars = [ln for ln in lines if "[" in ln]
    assert len(bars) == 11  # 0 %, 10 %, ..., 100 %
    assert "16:40 / 16:40 audio" in bars[-1] and "100%" in bars[-1]
    assert lines[-1].startswith("transcribing: done in")


def test_terminal_redraws_one_line_with_eta(monkeypatch):
    import sync.progress as progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = _Tty()
    bar = Progress(total=600.0, stream=out)
    now[0] += 30.0
    bar.update(300.0)  # half the audio in 30 s: 30 s to go
    assert out.getvalue().startswith("\r")
    assert "5:00 / 10:00 audio" in out.getvalue() and "ETA 0:30" in out.getvalue()
    assert "\n" not in out.getvalue()


def test_progress_never_goes_backwards():
    bar = Progress(total=100.0, stream=io.StringIO())
    bar.update(50)
    bar.update(20)
    assert bar.done == 50
    bar.update(500)
    assert bar.done == 100


def test_a_resumed_run_counts_only_its_own_audio_as_speed(monkeypatch):
    import sync.progress as progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = _Tty()
    bar = Progress(total=600.0, stream=out, start=300.0)  # resumed half-way
    now[0] += 30.0
    bar.update(400.0)  # 100 s of audio in 30 s: 200 s left -> 60 s
    assert "ETA 1:00" in out.getvalue()


def test_a_burst_of_segments_leaves_its_last_state_on_screen(monkeypatch):
    """A batch of windows is decoded at once, so several segments report in the same instant:
    the line left on the terminal is the last of them, not the first."""
    import sync.progress as progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = _Tty()
    bar = Progress(total=600.0, stream=out)
    now[0] += 30.0
    for done in (60.0, 120.0, 180.0, 240.0, 300.0):  # one batch: 5 windows, same instant
        bar.update(done)
    last = out.getvalue().rsplit("\r", 1)[-1]
    assert "5:00 / 10:00 audio" in last and "ETA 0:30" in last
