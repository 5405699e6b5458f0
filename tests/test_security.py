"""Hardening: security headers and CSP, same-site redirects, session invalidation, Secure
cookies, login throttling that cannot lock a lecturer out, templates without inline script."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import pytest
from lecturer_fixtures import PASSWORD, add_user, csrf, login, token_from

from player.security import CONTENT_SECURITY_POLICY, safe_next

TEMPLATES = Path(__file__).resolve().parents[1] / "player" / "templates"


# ---- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/lecturer/", "/static/shiur.css", "/no-such-page", "/catalogue"])
def test_every_response_has_the_security_headers(client, path):
    resp = client.get(path)
    h = resp.headers
    csp = h["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert "Server" not in h  # the server's own header is the only one (see the next test)


def test_real_server_sends_no_version_banner(app):
    from werkzeug.serving import make_server

    from player.security import NoBannerRequestHandler

    # What `shiur serve` runs (player/cli.py passes the same handler to app.run).
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=NoBannerRequestHandler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/login") as r:
            banner = r.headers.get_all("Server")
            csp = r.headers["Content-Security-Policy"]
    finally:
        server.shutdown()
        t.join()
    assert banner and len(banner) == 1 and "Werkzeug" not in banner[0] and "Python" not in banner[0]
    assert csp == CONTENT_SECURITY_POLICY


def test_templates_have_no_inline_script_or_handlers():
    for tpl in TEMPLATES.glob("*.html"):
        html = tpl.read_text(encoding="utf-8")
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
            attrs, body = m.groups()
            if "application/json" in attrs:
                continue
            assert "src=" in attrs and not body.strip(), f"{tpl.name}: inline script"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{tpl.name}: inline event handler"
        assert "javascript:" not in html, tpl.name


def test_username_in_admin_page_is_data_not_code(app, client):
    add_user(app, "boss", role="admin")
    evil = "x');alert(1);('"
    from player.auth import create_user
    from player.db import connect

    conn = connect(app.config["DATABASE"])
    create_user(conn, evil.replace(" ", ""), PASSWORD)
    conn.close()
    login(client, "boss")
    page = client.get("/users").get_data(as_text=True)
    assert "onsubmit" not in page
    assert 'data-confirm="להסיר את x&#39;);alert(1);(&#39;?' in page
    assert "confirm.js" in page


# ---- redirects -----------------------------------------------------------------------------

OFF_SITE = [
    "//evil.example/x", "/%09/evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
    "/\\evil.example", "\\\\evil.example", "/%5Cevil.example", "%2F%2Fevil.example", "/%2F/evil.example",
    "/%252F/evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
    " //evil.example", "///evil.example", "/%0d%0a/evil.example", "evil.example", "//\x00evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_refuses_off_site_targets(target):
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/lecturer/r/abc", "/lecturer/?x=1", "/r/x#p5.2", "/users"])
def test_safe_next_keeps_same_site_paths(target):
    assert safe_next(target, "/home") == target


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/\\evil.example", "/\t/evil.example"])
def test_login_never_redirects_off_site(app, client, target):
    add_user(app)
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert "evil.example" not in page  # not even carried in the form
    resp = client.post("/login", query_string={"next": target},
                       data={"username": "rav", "password": PASSWORD, "csrf_token": token_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/lecturer/"


def test_login_keeps_a_same_site_next(app, client):
    add_user(app)
    resp = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": csrf(client),
                                       "next": "/lecturer/upload"})
    assert resp.headers["Location"] == "/lecturer/upload"


# ---- sessions ------------------------------------------------------------------------------


def _copy_cookie(src, dst) -> None:
    cookie = src.get_cookie("session")
    dst.set_cookie("session", cookie.value)


def test_logout_voids_a_copied_session_cookie(app, client):
    add_user(app)
    token = login(client)
    thief = app.test_client()
    _copy_cookie(client, thief)
    assert thief.get("/lecturer/").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    assert thief.get("/lecturer/").status_code == 302


def test_password_change_voids_other_sessions(app, client, monkeypatch, app_config):
    add_user(app)
    login(client)
    laptop = app.test_client()
    login(laptop)
    from player.auth import set_password
    from player.db import connect

    conn = connect(app.config["DATABASE"])
    set_password(conn, "rav", "a brand new password")
    conn.close()
    assert client.get("/lecturer/").status_code == 302
    assert laptop.get("/lecturer/").status_code == 302


def test_admin_changing_own_password_keeps_this_session_only(app, client):
    add_user(app, "boss", role="admin")
    login(client, "boss")
    other = app.test_client()
    login(other, "boss")
    token = token_from(client.get("/users").get_data(as_text=True))
    resp = client.post("/users", data={"csrf_token": token, "action": "passwd", "username": "boss",
                                       "password": "another-password"})
    assert resp.status_code == 302
    assert client.get("/users").status_code == 200
    assert other.get("/users").status_code == 302


def test_secure_cookie_can_be_forced_by_the_operator(monkeypatch, app_config):
    from player import create_app

    monkeypatch.setenv("SHIUR_SECURE_COOKIES", "1")
    app = create_app(app_config)
    add_user(app)
    client = app.test_client()  # localhost: without the setting the cookie is not Secure
    resp = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": csrf(client)})
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]


def test_readme_documents_the_secure_cookie_setting():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "SHIUR_SECURE_COOKIES" in readme


# ---- login throttling ----------------------------------------------------------------------


def _post_login(client, addr: str, password: str) -> int:
    token = csrf(client)
    return client.post("/login", data={"username": "rav", "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr}).status_code


def test_failures_from_one_address_do_not_lock_the_lecturer_out_elsewhere(app):
    add_user(app)
    attacker = app.test_client()
    for _ in range(12):
        _post_login(attacker, "203.0.113.9", "wrong guess")
    assert _post_login(attacker, "203.0.113.9", PASSWORD) == 429
    lecturer = app.test_client()
    assert _post_login(lecturer, "198.51.100.7", PASSWORD) == 302


def test_spraying_many_accounts_from_one_address_is_throttled(app):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 6
    add_user(app)
    c = app.test_client()
    for i in range(6):
        token = csrf(c)
        c.post("/login", data={"username": f"user{i}", "password": "x", "csrf_token": token},
               environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert _post_login(c, "203.0.113.9", PASSWORD) == 429
    assert _post_login(app.test_client(), "198.51.100.7", PASSWORD) == 302


# ---- catalogue CSV -------------------------------------------------------------------------

FORMULAS = {"title": "=HYPERLINK(\"http://evil.example\",\"x\")", "lecturer": "+1+cmd|' /C calc'!A0"}


def _formula_recording(app, recording) -> None:
    from player.db import connect

    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE recordings SET title = ?, lecturer = ?, language = ? WHERE id = ?",
                 (FORMULAS["title"], FORMULAS["lecturer"], "@SUM(A1)", recording.id))
    conn.execute("UPDATE discourses SET title = ? WHERE id = ?", ("-2+3", recording.discourse_id))
    conn.commit()
    conn.close()


def _csv_rows(text: str) -> list[dict]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _assert_neutralised(row: dict) -> None:
    assert row["title"] == "'" + FORMULAS["title"]
    assert row["lecturer"] == "'" + FORMULAS["lecturer"]
    assert row["language"] == "'@SUM(A1)"
    assert row["discourse"] == "'-2+3"
    for v in row.values():
        assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), v


def test_catalogue_csv_cells_cannot_be_formulas(app, client, recording):
    _formula_recording(app, recording)
    rows = _csv_rows(client.get("/catalogue.csv").get_data(as_text=True))
    _assert_neutralised(rows[0])
    assert rows[0]["duration_s"] and not rows[0]["duration_s"].startswith("'")  # numbers stay numbers


def test_catalogue_cli_csv_cells_cannot_be_formulas(app, recording, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from player.archivist import neutralise_cell
    from sync.cli import cli as group

    _formula_recording(app, recording)
    monkeypatch.setenv("SHIUR_MEDIA", app.config["MEDIA_DIR"])
    monkeypatch.setenv("SHIUR_LIBRARY", app.config["LIBRARY_DIR"])
    out = tmp_path / "cat.csv"
    res = CliRunner().invoke(group, ["catalogue", "-o", str(out)])
    assert res.exit_code == 0, res.output
    _assert_neutralised(_csv_rows(out.read_text(encoding="utf-8"))[0])
    res = CliRunner().invoke(group, ["catalogue"])
    _assert_neutralised(_csv_rows(res.output)[0])
    assert neutralise_cell("\tx") == "'\tx" and neutralise_cell("\rx") == "'\rx" and neutralise_cell(-1.5) == -1.5
