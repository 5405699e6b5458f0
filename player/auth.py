"""Accounts for lecturers and admins: login, sessions, CSRF, login throttling, ``shiur user``.

Listeners need no account. Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure
unless served from localhost or in debug; ``SHIUR_SECURE_COOKIES=1`` makes them Secure always,
for a server behind a TLS proxy that sees plain http from 127.0.0.1). A session carries its
user's *session epoch*; logout and a password change bump the epoch, which voids every cookie
issued before, on every device. The secret key is generated once and kept next to the library
database when none is configured, so sessions survive restarts.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

from .db import get_db
from .security import safe_next

bp = Blueprint("auth", __name__)

ROLES = ("lecturer", "admin")
MIN_PASSWORD = 8
LOGIN_WINDOW_S = 15 * 60
LOGIN_MAX_FAILURES = 5
"""Failures per window for one account from one client address. Counting per account alone
would let anyone lock a lecturer out by failing on purpose from elsewhere."""
LOGIN_MAX_FAILURES_PER_ADDRESS = 30
"""Failures per window from one address over all accounts (password spraying); it only ever
blocks that address."""
SECURE_COOKIES_ENV = "SHIUR_SECURE_COOKIES"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_MESSAGE = (
    "פג תוקף הטופס או שלא נשלח מאתר זה. טענו את הדף מחדש ונסו שוב. / "
    "The form expired or did not come from this site (CSRF check failed); reload the page and try again."
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}

F = TypeVar("F", bound=Callable[..., Any])


class SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        # A Secure cookie over plain http would be dropped by some browsers, which breaks
        # logging in on a lecturer's own machine; everywhere else the cookie must be Secure.
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        if app.debug:
            return False
        try:
            host = urlsplit("//" + request.host).hostname or ""
        except RuntimeError:
            return True
        return host not in _LOCAL_HOSTS


def stored_secret_key(library_dir: Path) -> str:
    """The key kept next to the library database (made on first use, readable by its owner only)."""
    path = Path(library_dir) / ".secret_key"
    try:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    try:
        # Another process may have won the race; keep whichever key landed first.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


# ---- users -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")


def check_username(conn: sqlite3.Connection, username: str) -> None:
    """A new account's name: one word, not taken yet (case as typed)."""
    username = username.strip()
    if not username or any(c.isspace() for c in username):
        raise ValueError("username must be one word without spaces")
    if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
        raise ValueError(f"user {username!r} already exists")


def create_user(conn: sqlite3.Connection, username: str, password: str, role: str = "lecturer",
                display_name: str = "") -> int:
    username = username.strip()
    check_username(conn, username)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_password(password)
    try:
        cur = conn.execute(
            "INSERT INTO users (username, password_hash, role, display_name) VALUES (?, ?, ?, ?)",
            (username, hash_password(password), role, display_name or username),
        )
    except sqlite3.IntegrityError:
        raise ValueError(f"user {username!r} already exists") from None
    conn.commit()
    return int(cur.lastrowid or 0)


def set_password(conn: sqlite3.Connection, username: str, password: str) -> None:
    check_password(password)
    cur = conn.execute("UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1 WHERE username = ?",
                       (hash_password(password), username))
    if cur.rowcount == 0:
        raise ValueError(f"no user {username!r}")
    conn.commit()


def verify(conn: sqlite3.Connection, username: str, password: str) -> sqlite3.Row | None:
    row = conn.execute("SELECT * FROM users WHERE username = ?", (username.strip(),)).fetchone()
    if row is None:
        # Same cost as a real check, so timing does not reveal which usernames exist.
        check_password_hash(_DUMMY_HASH, password)
        return None
    return row if check_password_hash(row["password_hash"], password) else None


_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))


@bp.app_template_global()
def current_user() -> sqlite3.Row | None:
    return g.get("user")


@bp.before_app_request
def _load_user() -> None:
    uid = session.get("uid")
    g.user = None
    if uid is not None:
        user = get_db().execute("SELECT * FROM users WHERE id = ?", (uid,)).fetchone()
        # A cookie from before epochs existed counts as epoch 0: valid until the next logout.
        if user is None or session.get("epoch", 0) != user["session_epoch"]:
            session.clear()
        else:
            g.user = user


def _start_session(user: sqlite3.Row) -> None:
    session.clear()
    session["uid"] = user["id"]
    session["epoch"] = user["session_epoch"]
    session.permanent = True


def end_all_sessions(conn: sqlite3.Connection, user_id: int) -> None:
    conn.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", (user_id,))
    conn.commit()


def login_required(view: F) -> F:
    """Lecturers and admins only; anonymous browsers go to the login page, API calls get 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            if request.method == "GET" and not _wants_json():
                return redirect(url_for("auth.login", next=request.full_path))
            abort(401)
        return view(*args, **kwargs)

    wrapped.login_required = True  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Admins only: account management."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = g.get("user")
        if user is None:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path))
            abort(401)
        if user["role"] != "admin":
            abort(403, "רק מנהלים. / Admins only.")
        return view(*args, **kwargs)

    wrapped.login_required = True  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


# ---- CSRF --------------------------------------------------------------------------------


@bp.app_template_global()
def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


@bp.before_app_request
def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    if current_app.config.get("CSRF_DISABLED"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if g.get("user") is None and getattr(view, "login_required", False):
        # Refused before the body is read: an anonymous 2 GB post is not streamed to disk first.
        abort(401)
    expected = session.get("csrf")
    if not expected:
        abort(400, CSRF_MESSAGE)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        if _wants_json() or request.headers.get(CSRF_HEADER) is not None or request.is_json:
            resp = jsonify(error=CSRF_MESSAGE)
            resp.status_code = 400
            abort(resp)
        abort(400, CSRF_MESSAGE)


# ---- login throttling --------------------------------------------------------------------


def _failure_keys(username: str) -> list[str]:
    """[account at this address, this address]: neither can block the account elsewhere."""
    addr = request.remote_addr or "?"
    return [f"user:{username.strip().lower()}@ip:{addr}", f"ip:{addr}"]


def _throttled(conn: sqlite3.Connection, keys: list[str], now: float) -> bool:
    since = now - current_app.config.get("LOGIN_WINDOW_S", LOGIN_WINDOW_S)
    limits = (current_app.config.get("LOGIN_MAX_FAILURES", LOGIN_MAX_FAILURES),
              current_app.config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", LOGIN_MAX_FAILURES_PER_ADDRESS))
    for key, limit in zip(keys, limits, strict=True):
        n = conn.execute("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?", (key, since)).fetchone()[0]
        if n >= limit:
            return True
    return False


def _record_failure(conn: sqlite3.Connection, keys: list[str], now: float) -> None:
    conn.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, now) for k in keys])
    conn.execute("DELETE FROM login_failures WHERE at < ?", (now - 24 * 3600,))
    conn.commit()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    status = 200
    nxt = request.values.get("next", "")
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        conn = get_db()
        now = time.time()
        keys = _failure_keys(username)
        if _throttled(conn, keys, now):
            error = ("יותר מדי ניסיונות כושלים. נסו שוב בעוד כמה דקות. / "
                     "Too many failed attempts; try again in a few minutes.")
            status = 429
        else:
            user = verify(conn, username, password)
            if user is None:
                _record_failure(conn, keys, now)
                error = "שם משתמש או סיסמה שגויים. / Wrong username or password."
                status = 401
            else:
                conn.execute("DELETE FROM login_failures WHERE key = ?", (keys[0],))
                conn.commit()
                _start_session(user)
                return redirect(safe_next(nxt, url_for("lecturer.dashboard")))
    return render_template("auth_login.html", error=error, next=safe_next(nxt, "")), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    user = current_user()
    if user is not None:
        # A copied cookie (a shared computer, a stolen backup) stops working too.
        end_all_sessions(get_db(), int(user["id"]))
    session.clear()
    flash("התנתקתם. / Logged out.")
    return redirect(url_for("auth.login"))


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> Any:
    """Admins add accounts, reset passwords and remove accounts (the CLI does the same)."""
    conn = get_db()
    error = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "")
        username = request.form.get("username", "").strip()
        try:
            if action == "add":
                create_user(conn, username, request.form.get("password", ""), request.form.get("role", "lecturer"),
                            request.form.get("display_name", "").strip())
                flash(f"נוצר חשבון {username}. / Account {username} created.")
            elif action == "passwd":
                set_password(conn, username, request.form.get("password", ""))
                if username.lower() == str(g.user["username"]).lower():
                    # The admin changed their own password: this session stays, all others end.
                    fresh = conn.execute("SELECT * FROM users WHERE id = ?", (g.user["id"],)).fetchone()
                    _start_session(fresh)
                flash(f"הסיסמה של {username} הוחלפה. / Password changed for {username}.")
            elif action == "delete":
                if username.lower() == str(g.user["username"]).lower():
                    raise ValueError("you cannot remove your own account")
                if conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 0:
                    raise ValueError(f"no user {username!r}")
                conn.commit()
                flash(f"החשבון {username} הוסר. / Account {username} removed.")
            else:
                raise ValueError(f"unknown action {action!r}")
        except ValueError as e:
            error = str(e)
            status = 400
        else:
            return redirect(url_for("auth.users"))
    rows = conn.execute("SELECT id, username, role, display_name, created_at FROM users ORDER BY username").fetchall()
    return render_template("auth_users.html", users=rows, roles=ROLES, error=error), status


# ---- CLI ---------------------------------------------------------------------------------


def _cli_conn() -> sqlite3.Connection:
    from . import create_app
    from .db import connect

    app = create_app()
    return connect(app.config["DATABASE"])


def _read_password(from_stdin: bool) -> str:
    """The password from stdin, or typed twice; a too-short one is refused before the second prompt."""
    from sync.errors import ShiurError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = str(click.prompt("Password", hide_input=True))
    try:
        check_password(password)
    except ValueError as e:
        raise ShiurError(str(e)) from None
    if not from_stdin and click.prompt("Repeat the password", hide_input=True) != password:
        raise ShiurError("the two passwords differ; nothing was changed")
    return password


def _cli_error(e: ValueError) -> Exception:
    from sync.errors import ShiurError

    return ShiurError(str(e))


@click.group("user")
def user_group() -> None:
    """Manage lecturer and admin accounts."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="lecturer", show_default=True)
@click.option("--name", "display_name", default="", help="Name shown on pages (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(username: str, role: str, display_name: str, password_stdin: bool) -> None:
    """Create an account."""
    conn = _cli_conn()
    try:
        # Everything that can be checked without the password is checked before asking for it.
        check_username(conn, username)
        password = _read_password(password_stdin)
        create_user(conn, username, password, role, display_name)
    except ValueError as e:
        raise _cli_error(e) from None
    finally:
        conn.close()
    click.echo(f"created {role} {username}")


@user_group.command("list")
def user_list() -> None:
    """List accounts."""
    conn = _cli_conn()
    try:
        rows = conn.execute("SELECT username, role, display_name, created_at FROM users ORDER BY username")
        for r in rows:
            click.echo(f"{r['username']}\t{r['role']}\t{r['display_name']}\t{r['created_at']}")
    finally:
        conn.close()


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def user_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password."""
    conn = _cli_conn()
    try:
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is None:
            raise ValueError(f"no user {username!r}")
        set_password(conn, username, _read_password(password_stdin))
    except ValueError as e:
        raise _cli_error(e) from None
    finally:
        conn.close()
    click.echo(f"password changed for {username}")


@user_group.command("delete")
@click.argument("username")
def user_delete(username: str) -> None:
    """Remove an account (its recordings stay)."""
    conn = _cli_conn()
    try:
        n = conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount
        conn.commit()
    finally:
        conn.close()
    if not n:
        raise _cli_error(ValueError(f"no user {username!r}"))
    click.echo(f"deleted {username}")
