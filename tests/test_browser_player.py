"""The player end to end in headless Chromium (Debian's), driven by Playwright.

The app runs on 127.0.0.1 in a thread. Every request that does not go to it is blocked and
recorded, so the tests also prove the page needs no network. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from browser_wait import wait_js
from player_fixtures import PLAN, make_synced
from werkzeug.serving import make_server

from player import create_app, library
from player.db import connect
from sync.alignment import EXPLAINED, READ

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "media" / "mimaamakim-5725.txt"
TOLERANCE = 0.25

# Cues far apart in the long sample text, so following them needs scrolling.
LONG_PLAN = [
    ("p1.1", READ, 0.5, 2.0),
    ("p4.2", READ, 2.0, 4.0),
    ("p6.1", READ, 4.0, 6.0),
    ("p6.1", EXPLAINED, 6.0, 8.0),
    ("p9.1", READ, 8.0, 10.0),
]
# A second lecturer on the same discourse, for the discourse page's "every class on a paragraph".
OTHER_PLAN = [
    ("p6.1", READ, 1.0, 3.0),
    ("p6.1", EXPLAINED, 3.0, 4.0),
    ("p1.1", READ, 4.0, 5.5),
]
PHONE = (390, 844)
DESKTOP = (1280, 800)
VIEWPORTS = pytest.mark.parametrize(("size", "width", "height"), [("phone", *PHONE), ("desktop", *DESKTOP)])


class Site:
    def __init__(self, base: str, slugs: dict[str, str]) -> None:
        self.base = base
        self.slugs = slugs

    def url(self, name: str, suffix: str = "") -> str:
        return f"{self.base}/r/{self.slugs[name]}{suffix}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    lib = tmp / "library"
    app = create_app({
        "TESTING": True, "SECRET_KEY": "t", "LIBRARY_DIR": str(lib), "DATABASE": str(lib / "db.sqlite3"),
        "SAMPLE_TEXT": str(SAMPLE),
    })  # fmt: skip
    short = make_synced(tmp / "short")
    long = make_synced(tmp / "long", SAMPLE.read_text(encoding="utf-8"), LONG_PLAN, 11.0)
    other = make_synced(tmp / "other", SAMPLE.read_text(encoding="utf-8"), OTHER_PLAN, 6.0)
    conn = connect(app.config["DATABASE"])
    slugs = {}
    for name, s, title, lecturer in (
        ("short", short, "שיעור קצר", "הרב ישראל כהן"),
        ("long", long, "ממעמקים — שיעור לדוגמה", "הרב ישראל כהן"),
        ("other", other, "ממעמקים — שיעור שני", "הרב משה לוי"),
    ):
        did = library.add_discourse_file(conn, s.text)
        rec = library.import_recording(conn, lib, s.outdir, s.audio, did, title, lecturer, "2024-10-06")
        slugs[name] = rec.slug
    conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", slugs)
    finally:
        server.shutdown()
        thread.join(5)


class Watch:
    """Requests that left the test server, failed requests and page errors."""

    def __init__(self) -> None:
        self.external: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.local: list[str] = []

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert self.external == [], self.external
        # A media request cut short by a seek is normal; anything else failing is not.
        bad = [f for f in self.failed if "/audio" not in f]
        assert bad == [], bad


@pytest.fixture
def open_page(browser: Any, site: Site) -> Iterator[Any]:
    contexts = []

    def opener(url: str, width: int = 1280, height: int = 800, scheme: str = "light",
               reduced_motion: str = "reduce") -> tuple[Any, Watch]:
        ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                  reduced_motion=reduced_motion, locale="he-IL")
        contexts.append(ctx)
        watch = Watch()

        def route(r: Any) -> None:
            if r.request.url.startswith(site.base + "/"):
                watch.local.append(r.request.url)
                r.continue_()
            else:
                watch.external.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("pageerror", lambda e: watch.errors.append(str(e)))
        # ERR_ABORTED is the browser cancelling a load itself (a reload or seek while an icon or an
        # audio range is in flight); a server or network failure shows as another error.
        page.on("requestfailed", lambda r: r.failure == "net::ERR_ABORTED"
                or watch.failed.append(f"{r.url} {r.failure}"))
        page.goto(url)
        wait_js(page, "window.shiurPlayer === undefined || window.shiurPlayer.track !== undefined")
        return page, watch

    yield opener
    for ctx in contexts:
        ctx.close()


READING_AT = ("!document.getElementById('audio').paused && document.querySelector('.ps.is-read') && "
              "document.querySelector('.ps.is-read').id === '{}'")
"""Playing, with the passage highlighted as being read."""


def state(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
      const a = document.getElementById("audio");
      const el = document.querySelector(".ps.is-read, .ps.is-explained");
      const w = document.querySelector(".w.is-word");
      return {t: a.currentTime, paused: a.paused, rate: a.playbackRate,
              id: el && el.id, kind: el && (el.classList.contains("is-explained") ? "explained" : "read"),
              word: w ? Array.from(w.parentElement.getElementsByClassName("w")).indexOf(w) : null,
              scrollY: window.scrollY, back: !document.getElementById("back-current").hidden};
    }""")


def in_view(page: Any, element_id: str) -> bool:
    return page.evaluate(
        """(id) => { const r = document.getElementById(id).getBoundingClientRect();
                     const bar = document.getElementById("player").getBoundingClientRect().top;
                     return r.bottom > 0 && r.top < bar; }""",
        element_id,
    )


def seek(page: Any, t: float) -> None:
    page.evaluate("(t) => window.shiurPlayer.seek(t)", t)
    wait_js(page, "(t) => Math.abs(document.getElementById('audio').currentTime - t) < 0.01", arg=t)
    page.wait_for_timeout(100)


# --- playback ----------------------------------------------------------------------------------


def test_highlight_changes_at_cue_boundaries(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    page.evaluate("""() => {
      window.changes = [];
      const a = document.getElementById("audio");
      new MutationObserver(() => {
        const el = document.querySelector(".ps.is-read, .ps.is-explained");
        const kind = el ? (el.classList.contains("is-explained") ? "explained" : "read") : null;
        const last = window.changes[window.changes.length - 1];
        const key = (el && el.id) + "/" + kind;
        if (!last || last.key !== key) window.changes.push({key: key, t: a.currentTime});
      }).observe(document.getElementById("discourse"), {attributes: true, subtree: true, attributeFilter: ["class"]});
    }""")
    seek(page, 2.4)
    page.click("#play")
    wait_js(page, "document.getElementById('audio').currentTime > 13.8", timeout=30_000)
    words_seen = state(page)
    page.click("#play")  # pause
    changes = page.evaluate("window.changes")
    timeline = []
    for (pid, kind, start, end), nxt in zip(PLAN, PLAN[1:] + [("", "", 1e9, 0)], strict=True):
        timeline.append((f"{pid}/{kind}", start))
        if nxt[2] > end:
            timeline.append(("null/null", end))  # a gap between cues: nothing highlighted
    expected = [(k, t) for k, t in timeline if 2.4 < t < 13.8]
    got = [(c["key"], c["t"]) for c in changes if c["t"] > 2.45]
    assert [k for k, _ in got] == [k for k, _ in expected], changes
    lags = {k: round((t - st) * 1000) for (k, t), (_, st) in zip(got, expected, strict=True)}
    print("highlight lag after cue start (ms):", lags)
    for (key, t), (_, start) in zip(got, expected, strict=True):
        assert start - 0.02 <= t <= start + TOLERANCE, f"{key}: highlighted at {t:.3f}, cue starts {start}"
    # The current word moves too (timings are spread evenly over a read cue in the fixture).
    assert words_seen["id"] == "p3.1" and words_seen["word"] is not None
    watch.check()


def test_current_word_matches_time(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    wait_js(page, "Object.keys(window.shiurPlayer.words).length > 0")
    seek(page, 9.3)  # p2.1 reads 8.0-10.5 over 19 tokens
    s = state(page)
    assert s["id"] == "p2.1" and s["kind"] == "read"
    assert s["word"] == int((9.3 - 8.0) / (2.5 / 19))
    seek(page, 6.0)  # the explanation of p1.2: no word lit
    s = state(page)
    assert (s["id"], s["kind"], s["word"]) == ("p1.2", "explained", None)
    watch.check()


def pause(page: Any) -> None:
    page.evaluate("document.getElementById('audio').pause()")
    wait_js(page, "document.getElementById('audio').paused")


@VIEWPORTS
def test_tapping_a_passage_plays_from_there(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    # One behaviour, paused or playing: a tap plays from the passage's reading, as the hint says.
    page, watch = open_page(site.url("short"), width=width, height=height)
    assert "play from there, even when paused" in page.inner_text("#hint")
    assert state(page)["paused"]
    page.click("#p2\\.2")
    # The highlight follows the cue change the seek causes, a moment later on a busy machine.
    wait_js(page, READING_AT.format("p2.2"))
    s = state(page)
    assert 10.5 <= s["t"] < 11.5 and s["id"] == "p2.2"
    page.click("#p1\\.1 .w >> nth=3")  # a word inside the passage: the passage's first reading
    page.wait_for_timeout(100)
    s = state(page)
    assert 0.5 <= s["t"] < 1.2 and not s["paused"]
    pause(page)
    page.click("#p3 .pn")  # paragraph number: the paragraph's first read cue
    wait_js(page, READING_AT.format("p3.1"))
    s = state(page)
    assert 13.5 <= s["t"] < 14.2 and s["id"] == "p3.1"
    pause(page)
    watch.check()


def test_paragraph_number_keeps_the_url_and_reload_resumes(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    url = page.url
    page.click("#p3 .pn")
    wait_js(page, "!document.getElementById('audio').paused")
    assert page.url == url and "#" not in page.url  # no #p3 written into the address
    pause(page)
    seek(page, 17.0)
    page.click("#play")
    wait_js(page, "document.getElementById('audio').currentTime > 17.2")
    pause(page)  # pausing saves the position
    saved = state(page)["t"]
    page.reload()
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track !== undefined")
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(saved, abs=0.1) and s["id"] == "p3.2"  # not paragraph 3's start (13.5)
    assert "Resuming" in page.inner_text("#notice")
    # A shared deep link is followed once, then leaves the address bar: a reload resumes instead.
    page2, watch2 = open_page(site.url("short", "#p2.1"))
    page2.wait_for_timeout(150)
    assert state(page2)["t"] == pytest.approx(8.0, abs=0.01)
    assert page2.evaluate("location.hash") == ""
    watch.check()
    watch2.check()


def test_deep_links(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short", "#p2.1"))
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(8.0, abs=0.01) and s["id"] == "p2.1"
    page, watch2 = open_page(site.url("short", "?t=14"))
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(14.0, abs=0.01) and s["id"] == "p3.1"
    assert page.evaluate("""["615", "10:15", "1:02:03", "1h2m3s", "90s", "2m", "x", ""].map(s => {
        const t = window.ShiurPlayer.parseTime(s); return isNaN(t) ? null : t; })""") == [
        615, 615, 3723, 3723, 90, 120, None, None]
    page, watch3 = open_page(site.url("long", "#p9.1"))
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(8.0, abs=0.01) and s["id"] == "p9.1"
    assert s["scrollY"] > 1000 and in_view(page, "p9.1")
    for w in (watch, watch2, watch3):
        w.check()


def test_auto_scroll_follows_and_pauses(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("long"), width=390, height=844)
    seek(page, 2.5)
    assert state(page)["id"] == "p4.2" and in_view(page, "p4.2")
    seek(page, 4.5)
    assert in_view(page, "p6.1") and not state(page)["back"]
    # The listener scrolls back to the top to look at something: following stops.
    page.mouse.move(200, 300)
    page.mouse.wheel(0, -100000)
    page.wait_for_timeout(300)
    assert state(page)["scrollY"] == 0 and state(page)["back"]
    seek(page, 8.5)
    s = state(page)
    assert s["id"] == "p9.1" and s["scrollY"] == 0 and not in_view(page, "p9.1") and s["back"]
    page.click("#back-current")
    page.wait_for_timeout(300)
    assert in_view(page, "p9.1") and not state(page)["back"]
    # Following again: the next passage change scrolls.
    seek(page, 0.6)
    assert in_view(page, "p1.1")
    watch.check()


def test_auto_scroll_follows_while_playing(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("long"), width=1280, height=800, reduced_motion="no-preference")
    seek(page, 1.7)
    page.click("#play")
    wait_js(page, "document.getElementById('audio').currentTime > 2.6", timeout=15_000)
    page.wait_for_timeout(900)  # let the smooth scroll finish
    page.click("#play")
    assert state(page)["id"] == "p4.2" and in_view(page, "p4.2")
    assert not state(page)["back"]  # our own smooth scrolling does not count as the user's
    watch.check()


def test_controls_and_keyboard(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    seek(page, 5.0)
    page.click("#fwd10")
    assert state(page)["t"] == pytest.approx(15.0, abs=0.01)
    page.click("#back10")
    assert state(page)["t"] == pytest.approx(5.0, abs=0.01)
    # No control focused: Space on a focused button is that button's own activation.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("l")
    assert state(page)["t"] == pytest.approx(15.0, abs=0.01)
    page.keyboard.press("j")
    page.keyboard.press("ArrowLeft")
    assert state(page)["t"] == pytest.approx(0.0, abs=0.01)
    page.keyboard.press("ArrowRight")
    assert state(page)["t"] == pytest.approx(10.0, abs=0.01)
    page.keyboard.press("k")
    wait_js(page, "!document.getElementById('audio').paused")
    page.keyboard.press(" ")
    wait_js(page, "document.getElementById('audio').paused")
    # The button follows the media element's own "pause" event, which comes a moment later.
    wait_js(page, "document.getElementById('play').getAttribute('aria-label') === 'נגן · Play'")
    seek(page, 5.0)
    page.focus("#seek")  # the timeline slider steps like the buttons
    page.keyboard.press("ArrowRight")
    assert state(page)["t"] == pytest.approx(15.0, abs=0.01)
    page.keyboard.press("Home")
    assert state(page)["t"] == pytest.approx(0.0, abs=0.01)
    page.select_option("#rate", "1.5")
    assert state(page)["rate"] == 1.5
    # Paragraph markers on the timeline, one per chapter cue, at the chapter's start.
    marks = page.evaluate("Array.from(document.querySelectorAll('#marks .mark')).map(m => [m.dataset.p, m.style.left])")
    assert [m[0] for m in marks] == ["p1", "p2", "p3", "p1"]
    assert float(marks[1][1].rstrip("%")) == pytest.approx(100 * 8.0 / 21.0, abs=0.01)
    watch.check()


def test_resume_where_the_listener_left_off(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    seek(page, 11.0)
    page.click("#play")
    wait_js(page, "document.getElementById('audio').currentTime > 11.2")
    page.click("#play")  # pausing saves the position
    t = state(page)["t"]
    page.reload()
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track !== undefined")
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(t, abs=0.1) and s["id"] == "p2.2"
    assert "Resuming" in page.inner_text("#notice")
    watch.check()


def test_theme_toggle(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme-toggle")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != dark and page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    watch.check()


def test_works_without_network(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("long"))
    wait_js(page, "document.fonts.status === 'loaded'")
    assert page.evaluate("document.fonts.check('20px \"Frank Ruhl Libre\"', 'שלום')")
    family = page.evaluate("getComputedStyle(document.querySelector('.ps')).fontFamily")
    assert family.startswith('"Frank Ruhl Libre"')
    used = page.evaluate("""() => Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)""")
    assert "Frank Ruhl Libre" in [u.strip('"') for u in used]
    assert any(u.endswith(".woff2") for u in watch.local)
    assert any(u.endswith("passages.vtt") for u in watch.local)
    watch.check()
    page2, watch2 = open_page(site.base + "/")
    watch2.check()


def test_accessibility_basics(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("long"))
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["he", "rtl"]
    unnamed = page.evaluate("""() => Array.from(document.querySelectorAll("button, select, input, a[href]"))
      .filter(el => el.getClientRects().length)
      .filter(el => !(el.getAttribute("aria-label") || (el.labels && el.labels.length) || el.textContent.trim()))
      .map(el => el.outerHTML.slice(0, 80))""")
    assert unnamed == []
    for selector in ("header[role=banner]", "main", "[role=region][aria-label]", "nav[aria-label]"):
        assert page.locator(selector).count() >= 1, selector
    # Keyboard order: the player's controls come before the 35 paragraph links.
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert "play" in order and not any(o == "pn" for o in order[: order.index("play")])
    # The current passage is marked for assistive technology, not only by colour.
    seek(page, 2.5)
    assert page.get_attribute("#p4\\.2", "aria-current") == "true"
    assert "reading" in page.inner_text("#now-kind")
    seek(page, 6.5)
    assert "explaining" in page.inner_text("#now-kind")
    watch.check()


# --- screenshots -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("size", "width", "height"), [("phone", 390, 844), ("desktop", 1280, 800)])
def test_screenshots(open_page: Any, site: Site, scheme: str, size: str, width: int, height: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page, watch = open_page(site.url("long", "#p4.2"), width=width, height=height, scheme=scheme)
    wait_js(page, "Object.keys(window.shiurPlayer.words).length > 0")
    wait_js(page, "document.fonts.status === 'loaded'")
    seek(page, 3.1)
    assert state(page)["word"] is not None
    path = ARTIFACTS / f"player-{size}-{scheme}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    seek(page, 6.5)  # the explanation of p6.1
    page.screenshot(path=str(ARTIFACTS / f"player-explained-{size}-{scheme}.png"))
    page.click("#tool-toc")
    page.screenshot(path=str(ARTIFACTS / f"player-contents-{size}-{scheme}.png"))
    page.click("#tool-toc")
    top, watch3 = open_page(site.url("short"), width=width, height=height, scheme=scheme)
    seek(top, 9.0)
    top.evaluate("window.scrollTo(0, 0)")
    top.screenshot(path=str(ARTIFACTS / f"player-top-{size}-{scheme}.png"))
    watch3.check()
    lib, watch2 = open_page(site.base + "/", width=width, height=height, scheme=scheme)
    lib.screenshot(path=str(ARTIFACTS / f"library-{size}-{scheme}.png"), full_page=True)
    watch.check()
    watch2.check()


# --- issue 13: bugs ----------------------------------------------------------------------------


def shot(page: Any, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def now_label(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => ({para: document.getElementById("now-para").textContent,
      kind: document.getElementById("now-kind").textContent,
      badge: Array.from(document.querySelectorAll(".para.is-current")).map(p => p.id)})""")


@VIEWPORTS
def test_between_cues_the_label_and_badge_are_cleared(open_page: Any, site: Site, size: str, width: int,
                                                     height: int) -> None:
    page, watch = open_page(site.url("short"), width=width, height=height)
    seek(page, 11.0)
    assert now_label(page) == {"para": "פסקה 2 · סעיף ב", "kind": "קריאה · reading", "badge": ["p2"]}
    seek(page, 13.2)  # p2.2 ends at 13.0, p3.1 starts at 13.5, and no paragraph spans the gap
    assert now_label(page) == {"para": "", "kind": "", "badge": []}
    shot(page, f"between-cues-{size}")
    # Playing through the gap, too (the cue-exit path, not only a seek).
    seek(page, 12.7)
    page.click("#play")
    wait_js(page, "document.getElementById('audio').currentTime > 13.15", timeout=10_000)
    label = now_label(page)
    pause(page)
    assert label["badge"] == [] and label["para"] == ""
    seek(page, 14.0)
    assert now_label(page)["badge"] == ["p3"]
    watch.check()


def test_back_to_current_when_the_passage_changes_during_the_scroll(open_page: Any, site: Site) -> None:
    # Phone, smooth scrolling: tapping "back" starts a ~1 s scroll; the passage changes under it.
    page, watch = open_page(site.url("long"), width=390, height=844, reduced_motion="no-preference")
    seek(page, 2.5)
    page.wait_for_timeout(1400)
    assert in_view(page, "p4.2")
    page.mouse.move(200, 300)
    page.mouse.wheel(0, -100000)
    page.wait_for_timeout(400)
    assert state(page)["back"]
    page.click("#back-current")
    page.wait_for_timeout(150)
    seek(page, 8.5)  # mid-scroll: p9.1, far below p4.2
    page.wait_for_timeout(2500)
    s = state(page)
    assert s["id"] == "p9.1" and not s["back"], s
    assert in_view(page, "p9.1")
    assert page.evaluate("window.shiurPlayer.follow") is True
    shot(page, "back-to-current-phone")
    seek(page, 0.6)  # following is on again: the next change scrolls by itself
    page.wait_for_timeout(1500)
    assert in_view(page, "p1.1") and not state(page)["back"]
    watch.check()


@VIEWPORTS
def test_time_past_the_end_is_said(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    page, watch = open_page(site.url("short", "?t=615"), width=width, height=height)
    page.wait_for_timeout(150)
    assert state(page)["t"] == pytest.approx(0.0, abs=0.01)
    notice = page.inner_text("#notice")
    assert "10:15" in notice and "0:21" in notice and "past the end" in notice and "אחרי סוף השיעור" in notice
    assert "t=" not in page.url
    shot(page, f"past-end-{size}")
    watch.check()


@VIEWPORTS
def test_bilingual_message_keeps_punctuation_on_its_side(open_page: Any, site: Site, size: str, width: int,
                                                        height: int) -> None:
    page, watch = open_page(site.url("long"), width=width, height=height)
    page.click("#p2\\.1")  # not read in this class
    page.wait_for_selector("#notice:not([hidden])")
    runs = page.evaluate("""() => Array.from(document.querySelectorAll("#notice bdi")).map(b =>
        [b.lang, b.getAttribute("dir"), b.textContent])""")
    assert runs == [["he", None, "קטע זה לא נקרא בשיעור."], ["en", "ltr", "This passage was not read in the class."]]
    # Where the English sentence's full stop is drawn: right of its last word (left to right),
    # not pushed to the far (left) side of the right-to-left line.
    x = page.evaluate("""() => {
      const t = document.querySelector("#notice bdi[lang=en]").firstChild, s = t.textContent;
      const at = (i) => { const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect().left; };
      return {dot: at(s.length - 1), last: at(s.length - 2), first: at(0)};
    }""")
    assert x["first"] < x["last"] < x["dot"], x
    # The same on pages: English runs in the library are isolated too.
    lib, watch2 = open_page(site.base + "/", width=width, height=height)
    assert lib.locator("p.count bdi[lang=en]").count() == 1
    shot(page, f"bilingual-notice-{size}")
    watch.check()
    watch2.check()


def test_hover_styles_only_for_devices_that_hover(open_page: Any, site: Site, browser: Any) -> None:
    page, watch = open_page(site.url("short"))
    rules = page.evaluate("""() => {
      const out = [];
      const walk = (list, media) => { for (const r of list) {
        if (r.cssRules && r.conditionText !== undefined) walk(r.cssRules, (media ? media + " and " : "") + r.conditionText);
        else if (r.selectorText && r.selectorText.includes(":hover")) out.push([r.selectorText, media]);
      } };
      for (const sh of document.styleSheets) walk(sh.cssRules, "");
      return out;
    }""")
    assert rules, "no hover rules found at all"
    assert all("(hover: hover)" in media for _, media in rules), rules
    # On a touch phone, (hover: hover) is false, so a tapped passage keeps no hover background.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        phone = ctx.new_page()
        phone.goto(site.url("short"))
        assert phone.evaluate("matchMedia('(hover: hover)').matches") is False
        wait_js(phone, "window.shiurPlayer && window.shiurPlayer.track")
        phone.tap("#p3\\.2")
        phone.evaluate("document.getElementById('audio').pause(); window.shiurPlayer.seek(2)")
        phone.wait_for_timeout(200)
        bg = phone.evaluate("getComputedStyle(document.getElementById('p3.2')).backgroundColor")
        assert bg in ("rgba(0, 0, 0, 0)", "transparent"), bg
    finally:
        ctx.close()
    watch.check()


# --- issue 13: features ------------------------------------------------------------------------


@VIEWPORTS
def test_contents_panel(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    page, watch = open_page(site.url("long"), width=width, height=height)
    page.click("#tool-toc")
    nav = page.get_by_role("navigation", name="פרקים Chapters")
    assert nav.is_visible()
    items = nav.get_by_role("listitem")
    assert items.count() == 12
    rows = page.evaluate("""() => Array.from(document.querySelectorAll(".toc-link")).slice(0, 9).map(a =>
        [a.dataset.p, a.querySelector(".toc-time").textContent, a.querySelector(".toc-state .en").textContent])""")
    assert rows[0] == ["p1", "0:00", "read"]
    assert rows[1] == ["p2", "—", "not read"]
    assert rows[3] == ["p4", "0:02", "read"]
    assert rows[5] == ["p6", "0:04", "read and explained"]
    assert rows[8] == ["p9", "0:08", "read"]
    assert page.get_attribute("#tool-toc", "aria-expanded") == "true"
    seek(page, 4.5)
    assert page.get_attribute(".toc-link[data-p=p6]", "aria-current") == "true"
    shot(page, f"contents-{size}")
    page.click(".toc-link[data-p=p9]")
    wait_js(page, "!document.getElementById('audio').paused")
    wait_js(page, "document.querySelector('.ps.is-read') && document.querySelector('.ps.is-read').id === 'p9.1'")
    s = state(page)
    pause(page)
    assert 8.0 <= s["t"] < 8.8 and s["id"] == "p9.1"
    assert page.is_hidden("#panel-toc") and "#" not in page.url
    # Keyboard: C opens it with focus on the current paragraph; Escape closes it back to the button.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("c")
    assert page.is_visible("#panel-toc")
    assert page.evaluate("document.activeElement.dataset.p") == "p9"
    page.keyboard.press("Escape")
    assert page.is_hidden("#panel-toc") and page.evaluate("document.activeElement.id") == "tool-toc"
    watch.check()


def test_search_key_matches_python(open_page: Any, site: Site) -> None:
    from sync.discourse import load_discourse

    words = sorted({t for p in load_discourse(SAMPLE).passages() for t in p.tokens})
    words += ["מִמַּעֲמַקִּים", "ש״פ", "בחי׳", "ר״ה", "קראתך", "Hello,", "ה'תשכ\"ה", "וו", "אי"]
    page, watch = open_page(site.url("long"))
    js = page.evaluate("(ws) => ws.map(w => window.ShiurPlayer.searchKey(w))", words)
    assert js == [library.search_key(w) for w in words]
    watch.check()


@VIEWPORTS
def test_search_inside_the_text(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    page, watch = open_page(site.url("long"), width=width, height=height)
    wait_js(page, "Object.keys(window.shiurPlayer.words).length > 0")
    page.click("#tool-search")
    assert page.evaluate("document.activeElement.id") == "find"
    # Defective spelling of קראתיך, and gershayim ״ for the text's ASCII " (ע"פ).
    for query, expected in (("קראתך", "p1.1"), ("ע״פ", "p1.1"), ("מִמַּעֲמַקִּים", "p1.1")):
        page.fill("#find", query)
        wait_js(page, "document.querySelectorAll('#find-results .hit').length > 0")
        first = page.evaluate("document.querySelector('.w.is-hit').closest('.ps').id")
        assert first == expected, query
    page.fill("#find", "קראתך")
    wait_js(page, "document.getElementById('find-status').textContent.includes('6 matches')")
    shot(page, f"search-{size}")
    page.click("#find-results .hit >> nth=0")
    wait_js(page, "!document.getElementById('audio').paused")
    t = state(page)["t"]
    pause(page)
    # Where it was read: קראתיך is token 3 of p1.1, read 0.5-2.0 over 25 tokens.
    assert 0.5 + 3 * 1.5 / 25 <= t < 0.5 + 3 * 1.5 / 25 + 0.5
    if size == "phone":  # choosing a result closes the panel on a phone, to show the text
        assert page.is_hidden("#panel-search")
        page.click("#tool-search")
    page.fill("#find", "אבגדהו")
    wait_js(page, "document.getElementById('find-status').textContent.includes('Not found')")
    watch.check()


@VIEWPORTS
def test_share_links(browser: Any, site: Site, size: str, width: int, height: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="he-IL")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
    try:
        page = ctx.new_page()
        page.goto(site.url("short"))
        wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
        seek(page, 9.3)
        page.click("#tool-share")
        page.click("#share-time")
        wait_js(page, "document.getElementById('notice').textContent.includes('copied')")
        assert page.evaluate("navigator.clipboard.readText()") == site.url("short", "?t=9")
        page.click("#share-passage")
        page.wait_for_timeout(200)
        assert page.evaluate("navigator.clipboard.readText()") == site.url("short", "#p2.1")
        assert page.input_value("#share-url") == site.url("short", "#p2.1")
        shot(page, f"share-{size}")
        page.keyboard.press("Escape")  # closes the panel
        assert page.is_hidden("#panel-share")
        # Select words in p2.2: a button offers that passage's link.
        page.evaluate("""() => { const ws = document.querySelectorAll("[id='p2.2'] .w");
          const r = document.createRange(); r.setStart(ws[2], 0); r.setEnd(ws[5], 1);
          const s = getSelection(); s.removeAllRanges(); s.addRange(r); }""")
        page.wait_for_selector("#share-selection:not([hidden])")
        shot(page, f"share-selection-{size}")
        page.click("#share-selection")
        page.wait_for_timeout(200)
        link = page.evaluate("navigator.clipboard.readText()")
        assert link == site.url("short", "#p2.2")
        assert state(page)["t"] == pytest.approx(9.3, abs=0.05)  # selecting is not seeking
        page.goto(link)
        wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
        page.wait_for_timeout(150)
        assert state(page)["t"] == pytest.approx(10.5, abs=0.01)
    finally:
        ctx.close()


def test_installable_and_offline(browser: Any, site: Site) -> None:
    # No request routing here: Playwright's routes and a service worker do not mix.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="he-IL")
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site.url("long"))
        wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
        manifest = page.evaluate("""async () => {
          const href = document.querySelector("link[rel=manifest]").href;
          const m = await (await fetch(href)).json();
          const icons = [];
          for (const i of m.icons) { const r = await fetch(i.src); icons.push([i.sizes, r.status, r.headers.get("content-type")]); }
          const fav = await fetch("/favicon.ico");
          return {m, icons, fav: [fav.status, fav.headers.get("content-type")]};
        }""")
        assert manifest["m"]["display"] == "standalone" and manifest["m"]["start_url"] == "/"
        assert ["192x192", 200, "image/png"] in manifest["icons"] and ["512x512", 200, "image/png"] in manifest["icons"]
        assert manifest["fav"][0] == 200 and "icon" in manifest["fav"][1]
        wait_js(page, "navigator.serviceWorker.controller !== null", timeout=10_000)
        page.click("#keep-offline")
        page.wait_for_selector("#keep-offline[data-kept=true]", timeout=20_000)
        shot(page, "offline-kept-phone")
        ctx.set_offline(True)
        page.reload()
        wait_js(page, "window.shiurPlayer && window.shiurPlayer.track && window.shiurPlayer.track.cues.length",
                               timeout=10_000)
        assert page.inner_text("h1") == "ממעמקים — שיעור לדוגמה"
        assert page.evaluate("navigator.onLine") is False
        seek(page, 8.2)  # a Range request answered from the kept copy
        page.click("#play")
        wait_js(page, "document.getElementById('audio').currentTime > 8.6", timeout=10_000)
        s = state(page)
        pause(page)
        assert s["id"] == "p9.1"
        assert page.evaluate("document.fonts.check('20px \"Frank Ruhl Libre\"', 'שלום')")
        page.wait_for_timeout(1500)  # let the smooth scroll to p9.1 settle before the picture
        shot(page, "offline-playing-phone")
        # A class that was not kept is not pretended to be available.
        other = ctx.new_page()
        with pytest.raises(Exception):  # noqa: B017 - the browser's own offline error page
            other.goto(site.url("other"))
        other.close()
        # Removing the copy frees the class's files (the audio above all).
        ctx.set_offline(False)
        page.click("#keep-offline")
        page.wait_for_selector("#keep-offline[data-kept=false]")
        kept = page.evaluate("async () => (await (await caches.open('shiur-classes')).keys()).map(r => r.url)")
        assert not any("/r/" in u for u in kept) and any(u.endswith(".css") or ".css?" in u for u in kept)
        assert errors == []
    finally:
        ctx.close()


def test_media_session(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("long"))
    page.context.add_init_script("""
      window.msCalls = {handlers: {}, positions: []};
      const ms = navigator.mediaSession;
      const set = ms.setActionHandler.bind(ms), pos = ms.setPositionState.bind(ms);
      ms.setActionHandler = (k, fn) => { window.msCalls.handlers[k] = fn; set(k, fn); };
      ms.setPositionState = (s) => { window.msCalls.positions.push(s); pos(s); };
    """)
    page.reload()
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
    wait_js(page, "window.msCalls.positions.length > 0")
    assert set(page.evaluate("Object.keys(window.msCalls.handlers)")) >= {
        "play", "pause", "seekto", "seekbackward", "seekforward", "previoustrack", "nexttrack"}
    last = page.evaluate("window.msCalls.positions[window.msCalls.positions.length - 1]")
    assert last["duration"] == pytest.approx(11.0, abs=0.05) and last["playbackRate"] == 1
    seek(page, 2.5)  # p4.2
    page.evaluate("window.msCalls.handlers.nexttrack({action: 'nexttrack'})")
    page.wait_for_timeout(150)
    assert state(page)["id"] == "p6.1"  # the next reading (explanations are not stops)
    page.evaluate("window.msCalls.handlers.nexttrack({action: 'nexttrack'})")
    page.wait_for_timeout(150)
    assert state(page)["id"] == "p9.1"
    page.evaluate("window.msCalls.handlers.previoustrack({action: 'previoustrack'})")
    page.wait_for_timeout(150)
    assert state(page)["id"] == "p6.1"
    pos = page.evaluate("window.msCalls.positions[window.msCalls.positions.length - 1]")
    assert pos["position"] == pytest.approx(4.0, abs=0.05)
    watch.check()


@VIEWPORTS
def test_reading_comfort_and_keys(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    page, watch = open_page(site.url("long"), width=width, height=height)

    def text_style() -> tuple[float, float]:
        return tuple(page.evaluate("""() => { const cs = getComputedStyle(document.getElementById("discourse"));
            return [parseFloat(cs.fontSize), parseFloat(cs.lineHeight) / parseFloat(cs.fontSize)]; }"""))

    size0, lead0 = text_style()
    page.click("#tool-settings")
    page.click("#size-up")
    page.click("#size-up")
    page.click("#leading-up")
    size1, lead1 = text_style()
    assert size1 == pytest.approx(size0 * 1.2, rel=0.02) and lead1 == pytest.approx(lead0 + 0.15, abs=0.02)
    assert page.inner_text("#size-val") == "120%"
    shot(page, f"settings-{size}")
    page.reload()  # remembered, and applied before the player script runs
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
    assert text_style() == pytest.approx((size1, lead1), rel=0.01)
    # Speeds 0.5-3x, and the keys.
    assert page.evaluate("Array.from(document.querySelectorAll('#rate option')).map(o => +o.value)") == [
        0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3]
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Shift+Period")
    assert state(page)["rate"] == 1.25
    for _ in range(8):
        page.keyboard.press("Shift+Period")
    assert state(page)["rate"] == 3
    page.keyboard.press("Shift+Comma")
    assert state(page)["rate"] == 2.5
    page.select_option("#rate", "1")
    page.evaluate("document.activeElement.blur()")
    seek(page, 2.5)
    page.keyboard.press("n")
    page.wait_for_timeout(100)
    assert state(page)["id"] == "p6.1"
    page.keyboard.press("p")
    page.wait_for_timeout(100)
    assert state(page)["id"] == "p4.2"
    page.keyboard.press("Shift+Slash")  # "?"
    assert page.is_visible("#keys-dialog")
    shot(page, f"keys-{size}")
    page.keyboard.press("Escape")
    assert not page.is_visible("#keys-dialog")
    watch.check()


def test_sleep_timer_end_of_passage(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    seek(page, 9.8)  # p2.1 ends at 10.5
    page.click("#tool-settings")
    page.select_option("#sleep", "passage")
    assert "end of the passage" in page.inner_text("#sleep-status")
    page.click("#play")
    wait_js(page, "document.getElementById('audio').paused", timeout=10_000)
    t = state(page)["t"]
    assert 10.5 <= t < 10.9, t
    assert "sleep timer" in page.inner_text("#notice")
    assert page.input_value("#sleep") == ""
    # Set, then the listener jumps elsewhere: it is the passage landed in whose end pauses.
    seek(page, 2.0)  # p1.1, ends at 3.0
    page.select_option("#sleep", "passage")
    seek(page, 15.5)  # p3.1, ends at 16.0
    page.click("#play")
    wait_js(page, "document.getElementById('audio').paused", timeout=10_000)
    t = state(page)["t"]
    assert 16.0 <= t < 16.4, t
    watch.check()


def test_sleep_timer_minutes(browser: Any, site: Site) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.clock.install()
        page.goto(site.url("long"))
        wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
        page.click("#tool-settings")
        page.select_option("#sleep", "15")
        assert "stops in 15 min" in page.inner_text("#sleep-status")
        page.evaluate("window.shiurPlayer.audio.loop = true")  # an 11 s file standing in for a long class
        page.click("#play")
        wait_js(page, "!document.getElementById('audio').paused")
        page.clock.run_for("10:00")
        assert "stops in 5 min" in page.inner_text("#sleep-status")
        assert not state(page)["paused"]
        page.clock.run_for("05:01")
        wait_js(page, "document.getElementById('audio').paused")
        assert "sleep timer" in page.inner_text("#notice")
    finally:
        ctx.close()


@VIEWPORTS
def test_every_class_on_a_paragraph(open_page: Any, site: Site, size: str, width: int, height: int) -> None:
    page, watch = open_page(site.base + "/d/mimaamakim-5725", width=width, height=height)
    rows = page.evaluate("""() => Array.from(document.querySelectorAll("#p6 .readings li")).map(li =>
        [li.querySelector("a").textContent, li.querySelector(".at").textContent])""")
    assert sorted(rows) == [["הרב ישראל כהן", "0:04"], ["הרב משה לוי", "0:01"]]
    assert page.locator("#p2 .readings").count() == 0  # nobody reads paragraph 2
    page.locator("#p6").scroll_into_view_if_needed()
    shot(page, f"discourse-readings-{size}")
    page.click("#p6 .readings a:has-text('הרב משה לוי')")
    wait_js(page, "window.shiurPlayer && window.shiurPlayer.track")
    page.wait_for_timeout(150)
    s = state(page)
    assert unquote(page.url).startswith(site.url("other")) and s["id"] == "p6.1"
    assert s["t"] == pytest.approx(1.0, abs=0.01)
    watch.check()
