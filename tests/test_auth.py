"""Accounts: hashing, login, sessions, login throttling, CSRF, the ``shiur user`` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lecturer_fixtures import PASSWORD, add_user, csrf, login

from player.db import connect


def test_password_is_hashed(app):
    add_user(app)
    row = connect(app.config["DATABASE"]).execute("SELECT password_hash FROM users").fetchone()
    assert PASSWORD not in row["password_hash"]
    assert row["password_hash"].startswith(("scrypt:", "pbkdf2:"))


def test_login_and_logout(app, client):
    add_user(app)
    token = csrf(client)
    bad = client.post("/login", data={"username": "rav", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401
    assert "Wrong username or password" in bad.get_data(as_text=True)
    assert client.get("/lecturer/").status_code == 302
    token = login(client)
    assert client.get("/lecturer/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/lecturer/").status_code == 302


def test_login_redirects_only_within_the_site(app, client):
    add_user(app)
    resp = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": csrf(client),
                                       "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/lecturer/"


def test_session_cookie_flags(app, client):
    add_user(app)
    resp = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": csrf(client)})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # localhost: plain http must keep working


def test_session_cookie_secure_off_localhost(app):
    add_user(app)
    client = app.test_client()
    base = "https://shiur.example.org"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    from lecturer_fixtures import token_from

    resp = client.post("/login", base_url=base,
                       data={"username": "rav", "password": PASSWORD, "csrf_token": token_from(page)})
    assert "Secure" in resp.headers["Set-Cookie"]


def test_login_is_rate_limited(app, client):
    add_user(app)
    token = csrf(client)
    for _ in range(5):
        assert client.post("/login", data={"username": "rav", "password": "x", "csrf_token": token}).status_code == 401
    # Even the right password is refused until the window passes.
    blocked = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    # The limit is stored in SQLite, so another client (a restarted server) sees it too.
    other = app.test_client()
    resp = other.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": csrf(other)})
    assert resp.status_code == 429


def test_rate_limit_window_expires(app, client):
    add_user(app)
    app.config["LOGIN_WINDOW_S"] = 0.5
    token = csrf(client)
    for _ in range(5):
        client.post("/login", data={"username": "rav", "password": "x", "csrf_token": token})
    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE login_failures SET at = at - 10")
    conn.commit()
    resp = client.post("/login", data={"username": "rav", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_csrf_missing_or_wrong_is_refused(app, client, token):
    add_user(app)
    csrf(client)  # the session has a real token; the post does not carry it
    data = {"username": "rav", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    resp = client.post("/login", data=data)
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)


def test_csrf_header_for_json_requests(app, client):
    add_user(app)
    token = login(client)
    wrong = client.post("/lecturer/r/none/edit", json={"action": "nudge"}, headers={"X-CSRF-Token": "x" + token})
    assert wrong.status_code == 400 and "CSRF" in wrong.get_json()["error"]
    right = client.post("/lecturer/r/none/edit", json={"action": "nudge"}, headers={"X-CSRF-Token": token})
    assert right.status_code == 404  # past the CSRF check: the recording does not exist


def test_secret_key_generated_once_and_kept(app_config):
    from player import create_app

    app_config["SECRET_KEY"] = ""
    first = create_app(dict(app_config)).config["SECRET_KEY"]
    second = create_app(dict(app_config)).config["SECRET_KEY"]
    assert len(first) >= 32 and first == second
    key_file = Path(app_config["LIBRARY_DIR"]) / ".secret_key"
    assert key_file.stat().st_mode & 0o077 == 0


def _cli(monkeypatch, app_config):
    from sync.cli import cli

    monkeypatch.setenv("SHIUR_MEDIA", app_config["MEDIA_DIR"])
    monkeypatch.setenv("SHIUR_LIBRARY", app_config["LIBRARY_DIR"])
    return cli


def test_user_commands(monkeypatch, app_config):
    cli = _cli(monkeypatch, app_config)
    runner = CliRunner()
    res = runner.invoke(cli, ["user", "add", "levi", "--role", "admin", "--password-stdin"], input="s3cret-pass\n")
    assert res.exit_code == 0, res.output
    dup = runner.invoke(cli, ["user", "add", "levi", "--password-stdin"], input="another-pass\n")
    assert dup.exit_code == 2 and dup.output == "shiur: error: user 'levi' already exists\n"
    short = runner.invoke(cli, ["user", "add", "dan", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and short.output == "shiur: error: password must be at least 8 characters\n"
    listed = runner.invoke(cli, ["user", "list"])
    assert "levi\tadmin" in listed.output and "dan" not in listed.output
    res = runner.invoke(cli, ["user", "passwd", "levi", "--password-stdin"], input="new-password\n")
    assert res.exit_code == 0, res.output

    from player import create_app

    app = create_app({"LIBRARY_DIR": app_config["LIBRARY_DIR"], "DATABASE": app_config["DATABASE"], "TESTING": True})
    client = app.test_client()
    assert client.post("/login", data={"username": "levi", "password": "s3cret-pass",
                                       "csrf_token": csrf(client)}).status_code == 401
    assert client.post("/login", data={"username": "levi", "password": "new-password",
                                       "csrf_token": csrf(client)}).status_code == 302
    missing = runner.invoke(cli, ["user", "passwd", "nobody", "--password-stdin"], input="whatever-pass\n")
    assert missing.exit_code == 2 and missing.output == "shiur: error: no user 'nobody'\n"


def test_user_add_prompts_refuse_early_in_one_line(monkeypatch, app_config):
    cli = _cli(monkeypatch, app_config)
    runner = CliRunner()
    # Typed interactively: a too-short password is refused at once, before "Repeat the password".
    short = runner.invoke(cli, ["user", "add", "dan"], input="short\n")
    assert short.exit_code == 2
    assert "Repeat" not in short.output
    assert short.output.strip().splitlines()[-1] == "shiur: error: password must be at least 8 characters"
    differ = runner.invoke(cli, ["user", "add", "dan"], input="long enough 1\nlong enough 2\n")
    assert differ.exit_code == 2 and differ.output.strip().endswith("shiur: error: the two passwords differ; "
                                                                    "nothing was changed")
    ok = runner.invoke(cli, ["user", "add", "dan"], input="long enough 1\nlong enough 1\n")
    assert ok.exit_code == 0 and "created lecturer dan" in ok.output
    # An existing name is refused before any password is asked for.
    again = runner.invoke(cli, ["user", "add", "dan"], input="")
    assert again.exit_code == 2 and again.output == "shiur: error: user 'dan' already exists\n"
    bad = runner.invoke(cli, ["user", "add", "two words"], input="")
    assert bad.output == "shiur: error: username must be one word without spaces\n"


def test_admin_manages_accounts_lecturer_may_not(app, client):
    from lecturer_fixtures import token_from

    add_user(app, "rav")
    add_user(app, "boss", role="admin")
    token = login(client, "rav")
    assert client.get("/users").status_code == 403
    assert client.post("/users", data={"csrf_token": token, "action": "delete", "username": "boss"}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    token = login(client, "boss")
    page = client.get("/users").get_data(as_text=True)
    assert 'data-user="rav"' in page and "Accounts" in page
    token = token_from(page)
    added = client.post("/users", data={"csrf_token": token, "action": "add", "username": "levi",
                                        "password": "levi-password", "role": "lecturer"})
    assert added.status_code == 302
    bad = client.post("/users", data={"csrf_token": token, "action": "add", "username": "levi",
                                      "password": "levi-password"})
    assert bad.status_code == 400 and "already exists" in bad.get_data(as_text=True)
    assert client.post("/users", data={"csrf_token": token, "action": "delete",
                                       "username": "boss"}).status_code == 400  # not yourself
    assert client.post("/users", data={"csrf_token": token, "action": "passwd", "username": "rav",
                                       "password": "a-new-password"}).status_code == 302
    assert client.post("/users", data={"action": "delete", "username": "rav"}).status_code == 400  # no CSRF
    assert client.post("/users", data={"csrf_token": token, "action": "delete",
                                       "username": "rav"}).status_code == 302
    names = [r["username"] for r in connect(app.config["DATABASE"]).execute("SELECT username FROM users")]
    assert sorted(names) == ["boss", "levi"]
    other = app.test_client()
    login(other, "levi", "levi-password")
