"""Bilingual messages ("עברית. / English.") keep each language's punctuation on its own side.

In a right-to-left page an English sentence's full stop, left bare, is drawn at the far left of
the line (".password"); each half is therefore set in its own <bdi>.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import ARGS, CHROMIUM
from lecturer_fixtures import add_user, csrf
from werkzeug.serving import make_server

from player import create_app
from player.listener import bilingual

ROOT = Path(__file__).resolve().parents[1]


def test_bilingual_sets_each_half_in_its_own_bdi():
    html = str(bilingual("שם משתמש או סיסמה שגויים. / Wrong username or password."))
    assert html == ('<bdi lang="he">שם משתמש או סיסמה שגויים.</bdi> / '
                    '<bdi lang="en" dir="ltr">Wrong username or password.</bdi>')
    assert str(bilingual("<b>x</b>")) == "<bdi>&lt;b&gt;x&lt;/b&gt;</bdi>"  # still escaped


def test_login_error_and_flash_are_isolated(app, client):
    add_user(app)
    bad = client.post("/login", data={"username": "rav", "password": "nope", "csrf_token": csrf(client)})
    assert '<bdi lang="en" dir="ltr">Wrong username or password.</bdi>' in bad.get_data(as_text=True)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    lib = tmp_path / "library"
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "LIBRARY_DIR": str(lib),
                      "DATABASE": str(lib / "db.sqlite3"), "SAMPLE_TEXT": str(ROOT / "media" / "mimaamakim-5725.txt")})
    add_user(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.mark.slow
def test_login_error_full_stop_drawn_after_the_english_words(live: str, tmp_path: Path):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{live}/login")
            page.fill("input[name=username]", "rav")
            page.fill("input[name=password]", "wrong-password")
            page.click("button[type=submit]")
            page.wait_for_selector("#login-error bdi[lang=en]")
            x = page.evaluate("""() => {
              const t = document.querySelector("#login-error bdi[lang=en]").firstChild, s = t.textContent;
              const at = (i) => { const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1);
                                  return r.getBoundingClientRect().left; };
              return {dot: at(s.length - 1), last: at(s.length - 2), first: at(0)};
            }""")
            # Left to right inside its run: the full stop follows "password", it is not thrown to the left.
            assert x["first"] < x["last"] < x["dot"], x
            out = ROOT / "tests" / "artifacts"
            out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out / "bilingual-login-error.png"))
        finally:
            browser.close()
