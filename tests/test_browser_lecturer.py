"""The whole lecturer loop in Chromium: log in, upload a spoken recording with its text, watch
progress reach "done", correct a passage's start, publish, and see the correction in a
listener's player. A real worker process does the transcription and alignment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from browser_wait import wait_js
from chromium import ARGS, CHROMIUM
from lecturer_fixtures import LESSON, LESSON_TEXT, PASSWORD, add_user
from speechgen import speak_paragraphs
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]


def _chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed (apt-get install chromium); the browser test needs it")
    return found


@pytest.fixture
def live(app, tmp_path):
    """The app on a real port, with a worker process beside it (as ``shiur serve`` runs it)."""
    from sync.whisper_model import bundled_model_dir, cache_dir

    bundled_model_dir()  # unpacked once in the user cache, then shared by link

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cache = tmp_path / "cache"
    cache.mkdir()
    if (cache_dir() / "models").is_dir():
        (cache / "models").symlink_to(cache_dir() / "models")
    env = {**os.environ, "SHIUR_LIBRARY": app.config["LIBRARY_DIR"], "SHIUR_DATABASE": app.config["DATABASE"],
           "SHIUR_MEDIA": app.config["MEDIA_DIR"], "SHIUR_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "player.jobs"], env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        yield f"http://127.0.0.1:{server.server_port}", tmp_path / "worker.log"
    finally:
        worker.terminate()
        worker.wait(10)
        log.close()
        server.shutdown()


@pytest.mark.slow
def test_upload_process_correct_publish_listen(app, live, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, worker_log = live
    add_user(app, "rav")
    speech = speak_paragraphs(LESSON, tmp_path / "shiur.wav")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(base + "/login")
            page.fill("input[name=username]", "rav")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/lecturer/")

            # A wrong file is refused in plain words, before anything is queued.
            page.goto(base + "/lecturer/upload")
            notes = tmp_path / "notes.mp3"
            notes.write_text("these are lecture notes, not a recording\n" * 50)
            page.set_input_files("input[name=audio]", str(notes))
            page.fill("input[name=title]", "Wrong file")
            page.click("#upload-submit")
            expect(page.locator("#upload-errors")).to_contain_text("notes.mp3: not an audio file")

            page.goto(base + "/lecturer/upload")
            page.set_input_files("input[name=audio]", str(speech.path))
            page.fill("input[name=title]", "Browser class")
            page.fill("input[name=recorded_on]", "2024-10-03")
            expect(page.locator("#hebrew-date")).to_have_text("א׳ תשרי תשפ״ה")
            page.select_option("select[name=language]", "en")
            page.check("input[name=text_source][value=paste]")
            page.fill("textarea[name=text_paste]", LESSON_TEXT)
            page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
            page.click("#upload-submit")
            page.wait_for_url("**/lecturer/r/**")
            slug = page.url.rstrip("/").rsplit("/", 1)[1]

            # Live progress: the page polls and reloads itself when the job is done.
            try:
                expect(page.locator("#job-state")).to_have_attribute("data-state", "done", timeout=300_000)
            except AssertionError:
                raise AssertionError(f"job did not finish; worker log:\n{worker_log.read_text()[-3000:]}") from None
            row = page.locator('#review-rows tr[data-passage="p2.1"]')
            expect(row).to_be_visible()
            found = float(row.get_attribute("data-start") or "nan")
            assert abs(found - speech.starts[1]) < 2.0  # the aligner found the second paragraph

            # Correct p2.1: select it, move the playhead, "start here".
            corrected = round(found + 0.75, 2)
            row.locator("button.pick").first.click()
            wait_js(page, "document.getElementById('audio').readyState >= 1")
            page.evaluate(f"document.getElementById('audio').currentTime = {corrected}")
            wait_js(page, f"Math.abs(document.getElementById('audio').currentTime - {corrected}) < 0.01")
            page.keyboard.press("s")  # the review page's key for "start here"
            expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute(
                "data-start", str(corrected))
            expect(page.locator("#history")).to_contain_text("start set")
            # The page updates in place and the selection stays: nudge it, then undo the nudge.
            expect(page.locator("#sel-passage")).to_have_text("p2.1")
            page.click("#nudge-fwd")
            expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute(
                "data-start", str(round(corrected + 0.5, 2)))
            page.click("#undo")
            expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute(
                "data-start", str(corrected))
            expect(page.locator("#history")).to_contain_text("undid")

            page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
            page.click("#publish")
            expect(page.locator("#pub-state")).to_contain_text("Published")

            # A listener (no account, fresh browser context) sees the corrected cue.
            listener = browser.new_context().new_page()
            listener.set_default_timeout(20_000)
            listener.goto(f"{base}/r/{slug}")
            wait_js(listener, "window.shiurPlayer && window.shiurPlayer.cueForPassage('p2.1')")
            start = listener.evaluate("window.shiurPlayer.cueForPassage('p2.1').startTime")
            assert start == pytest.approx(corrected, abs=0.002)
            listener.evaluate(f"""() => {{ const a = document.getElementById('audio'); a.muted = true;
                a.currentTime = {corrected + 0.2}; return a.play(); }}""")
            expect(listener.locator('[id="p2.1"]')).to_have_class(__import__("re").compile(r"\bis-read\b"))
        finally:
            browser.close()
