"""One correction on the review page of a 3-hour class: what the server takes to answer it.

Builds a library in bench/out/review_edit/ holding the bundled sample discourse as a 3-hour
class (600 cues with word timings, a 27k-word transcript), signs a lecturer in with Flask's test
client, and times, over a few runs: the review page itself (what every edit used to reload), a
"set start" edit, a nudge, and an undo. The edit's answer carries the rows, the history and the
player's new cues, so the page redraws in place instead of loading again. In the browser the
small fixture of tests/test_browser_lecturer_ux.py prints the whole round trip.

Timings on a shared machine are noisy: this prints figures and asserts nothing.

    .venv/bin/python bench/review_edit.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from render import SAMPLE, build_alignment  # noqa: E402

from player import create_app, library  # noqa: E402
from player.auth import create_user  # noqa: E402
from player.db import connect  # noqa: E402
from sync.discourse import load_discourse  # noqa: E402
from sync.transcript import Segment, Transcript, Word  # noqa: E402
from sync.writers import SyncResult, write_outputs  # noqa: E402

OUT = ROOT / "bench" / "out" / "review_edit"
HOURS = 3.0
CUES = 600
WORDS = 27_500


def build(lib: Path) -> tuple[object, str]:
    shutil.rmtree(OUT, ignore_errors=True)
    src = OUT / "src"
    src.mkdir(parents=True)
    duration = HOURS * 3600
    alignment, _ = build_alignment(CUES, duration)
    discourse = load_discourse(SAMPLE)
    step = duration / WORDS
    segs = [Segment(i * 30 * step, (i + 1) * 30 * step, " w" * 30,
                    words=[Word((i * 30 + k) * step, (i * 30 + k + 1) * step, " מילה", 0.8) for k in range(30)])
            for i in range(WORDS // 30)]
    transcript = Transcript(duration=duration, language="he", segments=segs, model="bench")
    write_outputs(SyncResult(discourse, alignment, transcript, {}), src)
    audio = src / "class.wav"
    audio.write_bytes(b"RIFF" + b"\0" * 40)  # never played here: the review page only links to it
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "LIBRARY_DIR": str(lib),
                      "DATABASE": str(lib / "db.sqlite3"), "SAMPLE_TEXT": str(SAMPLE)})
    conn = connect(app.config["DATABASE"])
    did = library.add_discourse_file(conn, SAMPLE)
    rec = library.import_recording(conn, lib, src, audio, did, "שיעור של שלוש שעות", "", "2024-10-06")
    create_user(conn, "rav", "bench password", "lecturer")
    conn.close()
    return app, rec.slug


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    app, slug = build(OUT / "library")
    client = app.test_client()  # type: ignore[attr-defined]
    with client.session_transaction() as s:
        conn = connect(app.config["DATABASE"])  # type: ignore[attr-defined]
        s["uid"] = conn.execute("SELECT id FROM users").fetchone()[0]
        conn.close()
        s["csrf"] = "bench"
    headers = {"X-CSRF-Token": "bench"}
    times: dict[str, list[float]] = {"review page (GET, the old reload)": [], "set start": [], "nudge": [],
                                     "undo": []}
    sizes: dict[str, int] = {}
    for i in range(args.runs):
        t0 = time.perf_counter()
        page = client.get(f"/lecturer/r/{slug}")
        times["review page (GET, the old reload)"].append(time.perf_counter() - t0)
        sizes["review page"] = len(page.data)
        for name, body in (("set start", {"action": "set_start", "passage_id": "p5.1", "time": 1000.0 + i}),
                           ("nudge", {"action": "nudge", "passage_id": "p5.1", "delta": 0.5})):
            t0 = time.perf_counter()
            resp = client.post(f"/lecturer/r/{slug}/edit", json=body, headers=headers)
            times[name].append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
            sizes["edit answer"] = len(resp.data)
        t0 = time.perf_counter()
        client.post(f"/lecturer/r/{slug}/undo", headers=headers)
        times["undo"].append(time.perf_counter() - t0)
    state = json.loads(resp.data)
    print(f"3-hour class: {len(state['cues']['passages'])} cues, {state['rows_html'].count('<tr ')} review rows, "
          f"{WORDS} words")
    for name, ts in times.items():
        print(f"  {name:36s} median {1000 * statistics.median(ts):6.0f} ms   (min {1000 * min(ts):.0f}, "
              f"max {1000 * max(ts):.0f}, {len(ts)} runs)")
    for name, n in sizes.items():
        print(f"  {name:36s} {n / 1024:6.0f} KB")


if __name__ == "__main__":
    main()
