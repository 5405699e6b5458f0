"""Every page under the strict Content-Security-Policy in Chromium: no violation reported, no
page error, and the scripts moved out of the templates still work (early theme, downloads cue
text, the confirm before removing an account)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import ARGS, CHROMIUM
from lecturer_fixtures import PASSWORD, add_user
from player_fixtures import make_synced
from werkzeug.serving import make_server

from player import create_app, library
from player.db import connect
from player.security import NoBannerRequestHandler

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parents[1]
EVIL = "o'neil\");alert(1);//"

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("csp")
    lib = tmp / "library"
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LIBRARY_DIR": str(lib), "DATABASE": str(lib / "db.sqlite3"),
                      "SAMPLE_TEXT": str(ROOT / "media" / "mimaamakim-5725.txt")})
    s = make_synced(tmp / "short")
    conn = connect(app.config["DATABASE"])
    did = library.add_discourse_file(conn, s.text)
    rec = library.import_recording(conn, lib, s.outdir, s.audio, did, "שיעור קצר", "הרב כהן", "2024-10-06")
    conn.close()
    boss = add_user(app, "boss", role="admin")
    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE recordings SET owner_id = ? WHERE id = ?", (boss, rec.id))
    from player.auth import create_user

    create_user(conn, EVIL.replace(" ", ""), PASSWORD)
    conn.commit()
    conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=NoBannerRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", rec.slug
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def page(site) -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package (.ci/setup does)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(locale="he-IL")
        ctx.add_init_script(WATCH)
        pg = ctx.new_page()
        pg.errors = []
        pg.console_csp = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: pg.console_csp.append(m.text) if "Content Security Policy" in m.text else None)
        base, _ = site
        pg.goto(base + "/login")
        pg.fill("input[name=username]", "boss")
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url("**/lecturer/")
        yield pg
        browser.close()


PAGES = ["/", "/r/{slug}", "/r/{slug}/downloads", "/catalogue", "/lecturer/", "/lecturer/upload",
         "/lecturer/r/{slug}", "/lecturer/r/{slug}/delete", "/users", "/login"]


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_under_the_csp_without_violations(page, site, path):
    base, slug = site
    resp = page.goto(base + path.format(slug=slug))
    assert resp.status == 200
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__csp") == []
    assert page.console_csp == [] and page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    if path in ("/lecturer/r/{slug}", "/users"):
        page.screenshot(path=str(ARTIFACTS / f"csp-{path.strip('/').replace('/', '-').replace('{slug}', 'rec')}.png"))


def test_saved_theme_applies_before_first_paint(page, site):
    base, _ = site
    page.goto(base + "/")
    page.evaluate("localStorage.setItem('shiur-theme', 'dark')")
    page.goto(base + "/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.evaluate("localStorage.removeItem('shiur-theme')")


def test_downloads_cue_text_choice_still_works(page, site):
    base, slug = site
    page.goto(f"{base}/r/{slug}/downloads")
    page.check("input[name=cue_text][value=id]")
    href = page.get_attribute("ul.downloads a[data-fmt=vtt]", "href")
    assert "cue_text=id" in href


def test_removing_an_account_asks_first_and_the_name_stays_text(page, site):
    base, _ = site
    page.goto(base + "/users")
    asked: list[str] = []

    def on_dialog(d: Any) -> None:
        asked.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    row = page.locator("tr", has=page.locator("td", has_text="neil"))
    row.locator("button.danger").click()
    page.wait_for_timeout(300)
    page.remove_listener("dialog", on_dialog)
    assert asked and EVIL.replace(" ", "") in asked[0]
    assert page.evaluate("window.__csp") == [] and page.errors == []
    assert page.locator("td", has_text="neil").count() == 1  # dismissed: not removed
