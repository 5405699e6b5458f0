"""Shared fixtures. Keep them generic: each audience's tests add their own next to these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    """A fresh library in tmp_path; the bundled sample discourse is loaded as on first run."""
    library = tmp_path / "library"
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "MEDIA_DIR": str(ROOT / "media"),
        "LIBRARY_DIR": str(library),
        "DATABASE": str(library / "shiur.sqlite3"),
        "SAMPLE_TEXT": str(ROOT / "media" / "mimaamakim-5725.txt"),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    from player import create_app

    yield create_app(app_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def synced(tmp_path: Path) -> Any:
    """A finished sync output folder with known cue times (see player_fixtures.PLAN) and its audio."""
    from player_fixtures import make_synced

    return make_synced(tmp_path / "synced")


@pytest.fixture
def recording(app: Flask, synced: Any) -> Any:
    """``synced`` imported into the app's library, published; returns the library Recording."""
    from player import library
    from player.db import connect

    conn = connect(app.config["DATABASE"])
    try:
        did = library.add_discourse_file(conn, synced.text)
        return library.import_recording(
            conn, Path(app.config["LIBRARY_DIR"]), synced.outdir, synced.audio, did,
            title="שיעור לדוגמה", lecturer="הרב כהן", recorded_on="2024-10-06",
        )
    finally:
        conn.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on a free loopback port (the Redis queue's tests); CI installs it."""
    import shutil
    import subprocess
    import time

    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/setup does it)")
    import redis

    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (pages and contexts are made by each test)."""
    playwright = pytest.importorskip("playwright.sync_api")
    from chromium import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package (.ci/setup does)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()
