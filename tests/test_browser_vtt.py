"""Exported WebVTT read by Chromium's own TextTrack parser: the parser the listeners' browsers use.

The files are served from localhost and loaded as ``<track>`` elements; ``track.cues`` must give
back every id, time and text we wrote. webvtt-py is the other parser (test_writers_export.py).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from archive_fixtures import sample_alignment, sample_result
from chromium import ARGS, CHROMIUM

from sync.alignment import cue_ids
from sync.bundle import export_result
from sync.discourse import parse_discourse
from sync.writers import CueText, SyncResult, chapter_title, ordered_cues, paragraph_runs, run_ids

pytestmark = pytest.mark.slow


PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<video id="v" preload="none">
  <track id="t1" kind="metadata" src="passages.vtt">
  <track id="t2" kind="chapters" src="paragraphs.vtt">
  <track id="t3" kind="metadata" src="ids.vtt">
</video></body></html>"""

READ_TRACKS = """async () => {
  const out = {};
  for (const id of ["t1", "t2", "t3"]) {
    const el = document.getElementById(id);
    el.track.mode = "hidden";
    await new Promise((resolve, reject) => {
      if (el.readyState === 2) return resolve();
      el.addEventListener("load", resolve);
      el.addEventListener("error", () => reject(new Error("track failed to load: " + id)));
    });
    out[id] = Array.from(el.track.cues).map(c => {
      const shown = c.getCueAsHTML();
      return {id: c.id, start: c.startTime, end: c.endTime, text: c.text, shown: shown.textContent,
              tags: shown.querySelectorAll("*").length};
    });
  }
  return out;
}"""


def _chromium_path() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (apt-get install chromium); the browser parser test needs it")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.fixture
def served(tmp_path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # the test output stays readable
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _browser_cues(url: str) -> dict[str, list[dict]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium_path(), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url + "index.html")
            return page.evaluate(READ_TRACKS)
        finally:
            browser.close()


def _write(folder: Path, result: SyncResult) -> None:
    export_result(result, folder, ["vtt", "chapters"])
    ids_dir = folder / "ids"
    export_result(result, ids_dir, ["vtt"], cue_text=CueText("id"))
    (ids_dir / "passages.vtt").replace(folder / "ids.vtt")
    (folder / "index.html").write_text(PAGE, encoding="utf-8")


def _check(tracks: dict[str, list[dict]], result: SyncResult) -> None:
    cues = ordered_cues(result.alignment)
    got = tracks["t1"]
    assert [c["id"] for c in got] == cue_ids(cues)
    for g, c in zip(got, cues, strict=True):
        assert abs(g["start"] - round(c.start, 3)) < 5e-4 and abs(g["end"] - round(c.end, 3)) < 5e-4
        assert g["shown"] == result.discourse.passage(c.passage_id).text
        assert g["tags"] == 0
    assert [c["text"] for c in tracks["t3"]] == [c.passage_id for c in cues]
    runs = paragraph_runs(result.alignment)
    assert [c["id"] for c in tracks["t2"]] == run_ids(runs)
    titles = [chapter_title(result.discourse.paragraph(r.paragraph_id)) for r in runs]
    assert [c["shown"] for c in tracks["t2"]] == titles


def test_chromium_reads_exported_hebrew_cues(served):
    folder, url = served
    result = sample_result(n=12)
    _write(folder, result)
    _check(_browser_cues(url), result)


def test_chromium_reads_markup_characters_as_text(served):
    folder, url = served
    d = parse_discourse(
        "He wrote a < b & c > d in one passage of text.\n\nThen <i>not a tag</i> and --> arrows here.\n"
    )
    base = sample_result(n=2, explained=False)
    result = SyncResult(d, sample_alignment(d, n=2, explained=False), base.transcript, {})
    _write(folder, result)
    tracks = _browser_cues(url)
    # What the browser shows is the passage as written: entities decoded, nothing taken as a tag.
    assert tracks["t1"][0]["shown"] == d.passages()[0].text
    assert tracks["t1"][1]["shown"] == d.passages()[1].text.replace("-->", "->")
    assert tracks["t1"][1]["tags"] == 0
