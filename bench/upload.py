"""Upload a large recording through the real server and print how much memory the server used.

The lecturer upload must stream to disk: the server's peak resident memory should stay flat
whatever the file size. This starts ``shiur serve --no-worker`` on a scratch library, logs in,
posts a generated WAV of the requested size (silence: the server only sniffs its header), and
prints the server's peak RSS (VmHWM) before and after, with the throughput. It prints figures;
it asserts nothing about time.

    python bench/upload.py --mb 1024
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BOUNDARY = "----shiur-bench-boundary"
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
            rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes))


def multipart(fields: dict[str, str], data_bytes: int) -> tuple[list[bytes], int, bytes]:
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
             "Content-Type: audio/wav\r\n\r\n").encode() + wav_header(data_bytes)
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return [head], len(head) + data_bytes + len(tail), tail


def body(head: list[bytes], data_bytes: int, tail: bytes, chunk: int = 1 << 20) -> Iterator[bytes]:
    yield from head
    zeros = bytes(chunk)
    left = data_bytes
    while left:
        n = min(chunk, left)
        yield zeros if n == chunk else bytes(n)
        left -= n
    yield tail


class Session:
    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        cookie = resp.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        conn.close()
        return resp.status, resp.getheader("Location"), text

    def token(self, path: str) -> str:
        _, _, html = self.request("GET", path)
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if not m:
            raise SystemExit(f"no CSRF token on {path}")
        return m.group(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=512, help="size of the uploaded file in MB (default 512)")
    args = ap.parse_args()
    data_bytes = args.mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="shiur-bench-upload-"))
    env = {**os.environ, "SHIUR_LIBRARY": str(work / "library"), "SHIUR_NO_WORKER": "1"}
    shiur = [sys.executable, "-c", "from sync.cli import main; main()"]
    subprocess.run([*shiur, "user", "add", "bench", "--password-stdin"], input=PASSWORD + "\n", text=True,
                   env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([*shiur, "serve", "--no-worker", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s = Session(port)
        for _ in range(100):
            try:
                s.request("GET", "/login")
                break
            except OSError:
                time.sleep(0.1)
        tok = s.token("/login")
        form = f"username=bench&password={PASSWORD}&csrf_token={tok}"
        s.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        tok = s.token("/lecturer/upload")
        idle = peak_rss_mb(server.pid)
        fields = {"csrf_token": tok, "title": "Bench upload", "language": "he", "text_source": "library",
                  "discourse_id": "1", "recorded_on": "2024-10-03"}
        head, length, tail = multipart(fields, data_bytes)
        t0 = time.perf_counter()
        status, location, text = s.request(
            "POST", "/lecturer/upload", body(head, data_bytes, tail),
            {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(length)},
        )
        secs = time.perf_counter() - t0
        peak = peak_rss_mb(server.pid)
        stored = list((work / "library").glob("*/original.wav"))
        print(f"upload: {length / 1e6:.0f} MB in {secs:.1f} s ({length / 1e6 / secs:.0f} MB/s), HTTP {status}"
              f" -> {location}")
        print(f"server peak RSS: {idle:.0f} MB before the upload, {peak:.0f} MB after"
              f" (+{peak - idle:.0f} MB for a {length / 1e6:.0f} MB file)")
        if stored:
            print(f"stored: {stored[0].relative_to(work)} ({stored[0].stat().st_size / 1e6:.0f} MB)")
        else:
            print("stored: nothing (the upload was refused):", re.findall(r"<li>(.*?)</li>", text))
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
