"""The lecturer's and archivist's pages in Chromium, without a worker: a refused upload, a
duplicate upload, editing in place on the review page, the review page on a phone, deleting by
title, translated job states, and the downloads page. Screenshots land in tests/artifacts/.

The recordings are built by hand (player_fixtures) so no Whisper run is needed; the full
upload-to-publish loop with a real worker is test_browser_lecturer.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_wait import wait_js
from lecturer_fixtures import LESSON_TEXT, PASSWORD, add_user
from player_fixtures import make_synced
from werkzeug.serving import make_server

from player import create_app, library
from player.db import connect
from player.ownership import set_owner

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parents[1]
TITLE = "בראשית א׳ — שיעור לדוגמה"

PHONE = {"width": 390, "height": 844}
PHONE_BAR_MAX_PX = 190
"""The review page's player bar (player controls and the editing buttons) on a 390x844 phone:
at most this tall (it was 237 px), so more than three quarters of the screen shows the text."""
PHONE_HEADER_MAX_PX = 60
"""The site header with the lecturer's menu on a phone: one line (it wrapped to three)."""


class Site:
    def __init__(self, base: str, app: Any, slug: str, audio: Path) -> None:
        self.base, self.app, self.slug, self.audio = base, app, slug, audio


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    lib = tmp_path / "library"
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LIBRARY_DIR": str(lib),
                      "DATABASE": str(lib / "db.sqlite3"), "SAMPLE_TEXT": str(ROOT / "media" / "mimaamakim-5725.txt")})
    synced = make_synced(tmp_path / "synced")
    owner = add_user(app, "rav")
    conn = connect(app.config["DATABASE"])
    try:
        did = library.add_discourse_file(conn, synced.text)
        rec = library.import_recording(conn, lib, synced.outdir, synced.audio, did, TITLE, "הרב כהן", "2024-10-06",
                                       published=False)
        # The lecturer of these tests owns the recording, as the uploader of their own class would.
        set_owner(conn, rec.id, owner)
        conn.commit()
    finally:
        conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", app, rec.slug, synced.audio)
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def lecturer(browser: Any, site: Site) -> Iterator[Any]:
    """A signed-in lecturer's page factory: ``lecturer(viewport)`` -> page (page errors fail the test)."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int] | None = None) -> Any:
        ctx = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, locale="he-IL",
                                  reduced_motion="reduce")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site.base + "/login")
        page.fill("input[name=username]", "rav")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/lecturer/")
        return page

    yield open_page
    for ctx in contexts:
        ctx.close()
    assert errors == [], errors


def _shot(page: Any, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"lecturer-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _in_view(page: Any, selector: str) -> bool:
    return bool(page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight && r.height > 0; }""", selector))


# ---- upload --------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_refused_upload_shows_why_where_the_user_is_and_keeps_the_form(lecturer: Any, site: Site, tmp_path: Path,
                                                                       viewport: dict[str, int] | None) -> None:
    from playwright.sync_api import expect

    page = lecturer(viewport)
    page.goto(site.base + "/lecturer/upload")
    notes = tmp_path / "notes.mp3"
    notes.write_text("these are lecture notes, not a recording\n" * 50)
    text = tmp_path / "maamar.txt"
    text.write_text(LESSON_TEXT, encoding="utf-8")
    page.set_input_files("input[name=audio]", str(notes))
    page.fill("input[name=title]", "שיעור שנדחה")
    page.check("input[name=text_source][value=file]")
    page.set_input_files("input[name=text_file]", str(text))
    page.click("#upload-submit")  # Playwright scrolls down to the button, as a user would
    box = page.locator("#upload-errors")
    expect(box).to_contain_text("notes.mp3: not an audio file")
    assert _in_view(page, "#upload-errors"), "the reason is out of view"
    assert page.evaluate("document.activeElement.id") == "upload-errors"
    # Nothing the lecturer entered is lost: fields, and both chosen files.
    assert page.input_value("input[name=title]") == "שיעור שנדחה"
    assert page.evaluate("document.querySelector('input[name=audio]').files[0].name") == "notes.mp3"
    assert page.evaluate("document.querySelector('input[name=text_file]').files[0].name") == "maamar.txt"
    assert page.is_checked("input[name=text_source][value=file]")
    assert not page.is_disabled("#upload-submit")
    _shot(page, f"upload-refused-{'phone' if viewport else 'desktop'}")

    # Choosing the real recording now (one already in the library) is caught as a duplicate.
    page.set_input_files("input[name=audio]", str(site.audio))
    page.click("#upload-submit")
    expect(page.locator("#upload-duplicate")).to_contain_text(TITLE)
    assert _in_view(page, "#upload-errors") and page.evaluate("document.activeElement.id") == "upload-errors"
    _shot(page, f"upload-duplicate-{'phone' if viewport else 'desktop'}")
    page.click("#duplicate-open")
    page.wait_for_url("**/lecturer/r/**")
    assert page.evaluate("decodeURIComponent(location.pathname)") == f"/lecturer/r/{site.slug}"
    conn = connect(site.app.config["DATABASE"])
    assert conn.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 1
    conn.close()


# ---- review --------------------------------------------------------------------------------


def _open_review(page: Any, site: Site) -> None:
    page.goto(f"{site.base}/lecturer/r/{site.slug}")
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track && window.shiurPlayer.track.cues.length")
    wait_js(page, "document.getElementById('audio').readyState >= 1")


def test_review_edits_update_in_place_and_keep_their_own_position(lecturer: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = lecturer()
    # A listener stopped at 0:12 in this class, in the same browser.
    page.goto(f"{site.base}/r/{site.slug}")
    page.evaluate(f"localStorage.setItem('shiur-pos:{site.slug}', JSON.stringify({{t: 12, at: Date.now()}}))")
    _open_review(page, site)
    time.sleep(0.3)
    assert page.evaluate("document.getElementById('audio').currentTime") < 1, "review resumed the listener's place"
    assert "Resuming" not in (page.text_content("#notice") or "")
    page.evaluate("window.__sameDocument = true")

    row = page.locator('#review-rows tr[data-passage="p2.1"]')
    row.locator("button.pick").first.click()
    page.evaluate("document.getElementById('audio').currentTime = 9.25")
    wait_js(page, "Math.abs(document.getElementById('audio').currentTime - 9.25) < 0.01")
    t0 = time.perf_counter()
    page.keyboard.press("s")
    expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute("data-start", "9.25")
    set_start_ms = (time.perf_counter() - t0) * 1000
    expect(page.locator("#history")).to_contain_text("התחלה נקבעה · start set")
    # The player took the new cue at once: highlighting and seeking follow the edit.
    assert page.evaluate("window.shiurPlayer.cueForPassage('p2.1').startTime") == pytest.approx(9.25, abs=0.002)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    expect(page.locator("#sel-passage")).to_have_text("p2.1")
    expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_class(__import__("re").compile("selected"))

    t0 = time.perf_counter()
    page.click("#nudge-fwd")
    expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute("data-start", "9.75")
    nudge_ms = (time.perf_counter() - t0) * 1000
    assert page.evaluate("window.shiurPlayer.cueForPassage('p2.1').startTime") == pytest.approx(9.75, abs=0.002)
    page.click("#undo")
    expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_attribute("data-start", "9.25")
    assert page.evaluate("window.shiurPlayer.cueForPassage('p2.1').startTime") == pytest.approx(9.25, abs=0.002)
    page.click("#not-read")
    expect(page.locator('#review-rows tr[data-passage="p2.1"]')).to_have_class(__import__("re").compile("not-read"))
    assert page.evaluate("window.shiurPlayer.cueForPassage('p2.1')") is None
    # The text no longer lights p2.1 as being read at 0:09.
    wait_js(page, "!document.getElementById('p2.1').classList.contains('is-read')")
    assert page.evaluate("window.__sameDocument") is True
    _shot(page, "review-after-edits")
    print(f"\nin-place edit round trip: set start {set_start_ms:.0f} ms, nudge {nudge_ms:.0f} ms")

    # Playing on the review page saves the review's position, never the listener's.
    page.evaluate("""() => { const a = document.getElementById('audio'); a.muted = true;
                             a.currentTime = 15; return a.play(); }""")
    wait_js(page, "document.getElementById('audio').currentTime > 15.2")
    page.evaluate("document.getElementById('audio').pause()")
    saved = json.loads(page.evaluate(f"localStorage.getItem('shiur-review-pos:{site.slug}')"))
    assert saved["t"] > 15
    assert json.loads(page.evaluate(f"localStorage.getItem('shiur-pos:{site.slug}')"))["t"] == 12


def test_review_on_a_phone(lecturer: Any, site: Site) -> None:
    page = lecturer(PHONE)
    _open_review(page, site)
    wait_js(page, "document.fonts.status === 'loaded'")
    bar = page.evaluate("document.getElementById('player').getBoundingClientRect().height")
    header = page.evaluate("document.querySelector('header.site').getBoundingClientRect().height")
    width = page.evaluate("document.documentElement.scrollWidth")
    print(f"\nphone 390x844: player bar {bar:.0f} px, header {header:.0f} px, page width {width} px")
    _shot(page, "review-phone")
    assert bar <= PHONE_BAR_MAX_PX, f"player bar {bar:.0f} px"
    assert header <= PHONE_HEADER_MAX_PX, f"header {header:.0f} px"
    assert width <= PHONE["width"], "the page scrolls sideways"
    # Every editing button is on screen, big enough to tap, and none covers another.
    rects = page.evaluate("""() => ['set-start', 'nudge-back', 'nudge-fwd', 'not-read', 'undo', 'play']
        .map(id => { const r = document.getElementById(id).getBoundingClientRect();
                     return {id, left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })""")
    for r in rects:
        assert 0 <= r["left"] and r["right"] <= PHONE["width"] and r["bottom"] <= PHONE["height"], r
        assert r["bottom"] - r["top"] >= 32, r
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            overlap = min(a["right"], b["right"]) - max(a["left"], b["left"]) > 1 and \
                min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 1
            assert not overlap, (a, b)
    # The menu still reaches every lecturer page: one line that scrolls sideways on its own.
    for name in ("למרצים", "העלאה", "יציאה"):
        link = page.locator("header.site nav").get_by_text(name).first
        link.scroll_into_view_if_needed()
        assert link.is_visible(), name
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.text_content("#job-state").strip() == "מוכן · ready"
    # And editing works there too.
    page.locator('#review-rows tr[data-passage="p3.1"] button.pick').first.click()
    page.click("#nudge-back")
    wait_js(page, "document.querySelector('#review-rows tr[data-passage=\"p3.1\"]').dataset.start === '13.0'")
    _shot(page, "review-phone-edited")


# ---- job states, delete, downloads ---------------------------------------------------------


def test_job_states_read_in_hebrew_with_english(lecturer: Any, site: Site) -> None:
    from player import jobs

    conn = connect(site.app.config["DATABASE"])
    rid = conn.execute("SELECT id FROM recordings").fetchone()[0]
    job = jobs.enqueue(conn, rid, jobs.REALIGN)
    conn.execute("UPDATE jobs SET state = 'failed', error = 'the original audio file is missing' WHERE id = ?",
                 (job,))
    conn.commit()
    conn.close()
    page = lecturer()
    cell = page.locator('td[data-state="failed"]')
    assert cell.text_content().strip() == "נכשל · failed"
    page.goto(f"{site.base}/lecturer/r/{site.slug}")
    assert page.text_content("#job-state").strip() == "נכשל · failed"
    _shot(page, "review-failed-state")


def test_delete_is_confirmed_by_typing_the_title(lecturer: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page = lecturer()
    page.goto(f"{site.base}/lecturer/r/{site.slug}/delete")
    expect(page.locator(".confirm-title")).to_have_text(TITLE)
    page.fill("#confirm", site.slug)  # the old way: no longer accepted
    page.click("button.danger")
    expect(page.locator("#delete-error")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "confirm"
    _shot(page, "delete-wrong")
    page.fill("#confirm", TITLE)
    page.click("button.danger")
    page.wait_for_url("**/lecturer/")
    expect(page.locator(".flash")).to_contain_text("נמחק")
    assert not (Path(site.app.config["LIBRARY_DIR"]) / site.slug).exists()


def test_downloads_page_sizes_and_audio(lecturer: Any, site: Site) -> None:
    page = lecturer()
    page.goto(f"{site.base}/r/{site.slug}/downloads")
    sizes = page.eval_on_selector_all("ul.downloads .size", "els => els.map(e => e.textContent.trim())")
    fmts = page.eval_on_selector_all("ul.downloads a[data-fmt]", "els => els.map(e => e.dataset.fmt)")
    assert "audio" in fmts and len(sizes) == len(fmts) and all(s.split()[-1] in ("B", "KB", "MB", "GB") for s in sizes), sizes
    _shot(page, "downloads", full_page=True)
    with page.expect_download() as dl:
        page.click('a[data-fmt="audio"]')
    assert dl.value.suggested_filename == f"{site.slug}.wav"
    assert Path(dl.value.path()).read_bytes() == site.audio.read_bytes()
