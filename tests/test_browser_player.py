"""The player end to end in headless Chromium (Debian's), driven by Playwright.

The app runs on 127.0.0.1 in a thread. Every request that does not go to it is blocked and
recorded, so the tests also prove the page needs no network. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_wait import wait_js
from player_fixtures import PLAN, make_synced
from werkzeug.serving import make_server

from player import create_app, library
from player.db import connect
from sync.alignment import EXPLAINED, READ

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
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
    conn = connect(app.config["DATABASE"])
    slugs = {}
    for name, s, title in ((("short", short, "שיעור קצר")), ("long", long, "ממעמקים — שיעור לדוגמה")):
        did = library.add_discourse_file(conn, s.text)
        rec = library.import_recording(conn, lib, s.outdir, s.audio, did, title, "הרב ישראל כהן", "2024-10-06")
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package (.ci/setup does)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


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
        page.on("requestfailed", lambda r: watch.failed.append(f"{r.url} {r.failure}"))
        page.goto(url)
        wait_js(page, "window.shiurPlayer === undefined || window.shiurPlayer.track !== undefined")
        return page, watch

    yield opener
    for ctx in contexts:
        ctx.close()


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


def test_tapping_a_passage_seeks_there(open_page: Any, site: Site) -> None:
    page, watch = open_page(site.url("short"))
    page.click("#p2\\.2")
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(10.5, abs=0.01) and s["id"] == "p2.2"
    page.click("#p1\\.1 .w >> nth=3")  # a word inside the passage: the passage's first reading
    page.wait_for_timeout(150)
    assert state(page)["t"] == pytest.approx(0.5, abs=0.01)
    page.click("#p3 .pn")  # paragraph number: the paragraph's first read cue
    page.wait_for_timeout(150)
    s = state(page)
    assert s["t"] == pytest.approx(13.5, abs=0.01) and s["id"] == "p3.1"
    watch.check()


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
    top, watch3 = open_page(site.url("short"), width=width, height=height, scheme=scheme)
    seek(top, 9.0)
    top.evaluate("window.scrollTo(0, 0)")
    top.screenshot(path=str(ARTIFACTS / f"player-top-{size}-{scheme}.png"))
    watch3.check()
    lib, watch2 = open_page(site.base + "/", width=width, height=height, scheme=scheme)
    lib.screenshot(path=str(ARTIFACTS / f"library-{size}-{scheme}.png"), full_page=True)
    watch.check()
    watch2.check()
