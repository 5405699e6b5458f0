"""`shiur serve` on several processes: one port, a server process per core, each supervised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port

from player import serving


def _children(pid: int, marker: bytes) -> list[int]:
    out = []
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        for x in f.read_text().split():
            try:
                if marker in Path(f"/proc/{x}/cmdline").read_bytes():
                    out.append(int(x))
            except OSError:
                pass
    return sorted(out)


def _get(port: int, timeout: float = 15) -> tuple[int, str]:
    # A new connection each time, so the kernel spreads them over every process's socket.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Connection": "close"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers["Server"]


def _wait(cond, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = cond()
        except OSError:
            value = None
        if value:
            return value
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_two_server_processes_share_the_port_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SHIUR_LIBRARY": str(tmp_path / "library"), "PYTHONPATH": str(ROOT), "SHIUR_NO_WORKER": "1"}
    shiur = Path(sys.executable).with_name("shiur")
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([str(shiur), "serve", "--port", str(port), "--no-sample", "--processes", "2"],
                             env=env, cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        assert _wait(lambda: _get(port) == (200, "shiur-sync"), 60, "shiur serve to answer", serve, log)
        first = _wait(lambda: (c := _children(serve.pid, b"player.serving")) and len(c) == 2 and c, 30,
                      "two server processes", serve, log)

        # Another server on the same port is refused with a message that names the address.
        other = subprocess.run([str(shiur), "serve", "--port", str(port), "--no-sample", "--processes", "2"],
                               env={**env, "SHIUR_LIBRARY": str(tmp_path / "other")}, cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
        assert other.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in other.stderr
        assert _get(port)[0] == 200  # and ours still answers

        os.kill(first[0], signal.SIGKILL)
        # Every request is answered while the dead process is replaced: connections the kernel
        # gives its socket wait in the backlog (the parent holds the socket) until the new one runs.
        statuses = [_get(port)[0] for _ in range(20)]
        assert statuses == [200] * 20
        now = _wait(lambda: (c := _children(serve.pid, b"player.serving")) and len(c) == 2 and first[0] not in c
                    and c, 30, "a new server process", serve, log)
        assert first[1] in now
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert serve.returncode == 0
    for pid in now:
        end = time.monotonic() + 20
        while not _gone(pid) and time.monotonic() < end:
            time.sleep(0.2)
        assert _gone(pid), f"server process {pid} outlived shiur serve"


def test_a_taken_port_is_refused_with_its_address(tmp_path: Path) -> None:
    import socket

    import click

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(click.ClickException, match=f"cannot listen on 127.0.0.1:{port}"):
            serving.listening_sockets("127.0.0.1", port, 2, 16)
    socks = serving.listening_sockets("127.0.0.1", port, 2, 16)
    try:
        assert len(socks) == 2 and all(x.getsockname() == ("127.0.0.1", port) for x in socks)
        with pytest.raises(click.ClickException):
            serving.refuse_taken_port("127.0.0.1", port)
    finally:
        for x in socks:
            x.close()


def test_default_is_a_process_per_core_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert serving.default_processes() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert serving.default_processes() == serving.MAX_DEFAULT_PROCESSES
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert serving.default_processes() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delattr(serving.socket, "SO_REUSEPORT")
    assert serving.default_processes() == 1


def test_server_processes_stop_when_shiur_serve_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL gives shiur serve no chance to stop its children; they notice and exit."""
    port = free_port()
    env = {**os.environ, "SHIUR_LIBRARY": str(tmp_path / "library"), "PYTHONPATH": str(ROOT), "SHIUR_NO_WORKER": "1"}
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([str(Path(sys.executable).with_name("shiur")), "serve", "--port", str(port),
                              "--no-sample", "--processes", "2"],
                             env=env, cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        assert _wait(lambda: _get(port)[0] == 200, 60, "shiur serve to answer", serve, log)
        kids = _wait(lambda: (c := _children(serve.pid, b"player.serving")) and len(c) == 2 and c, 30,
                     "two server processes", serve, log)
    finally:
        serve.kill()
        serve.wait(10)
    end = time.monotonic() + 10 * serving.PARENT_CHECK_S + 5
    while not all(_gone(p) for p in kids) and time.monotonic() < end:
        time.sleep(0.2)
    assert all(_gone(p) for p in kids), "a server process kept serving without its shiur serve"
