"""Load test of `shiur serve` on loopback: the old server (Werkzeug's development server), the new
one (waitress, on one process and on one per core) and a floor, one after the other, in one run.

Builds a library under bench/out/load/ with the synthetic sample class (espeak-ng), starts
`shiur serve` on a free loopback port, and lets N concurrent clients (default 200, at most 200)
each hold a keep-alive connection and loop over what a listener's browser asks for: the library
page, the player page, both VTT files and the audio in 64 KB Range requests. Every client starts
at once, as if a class's listeners all opened the link in the same instant (``--ramp S`` spreads
them over S seconds instead). Prints, per server and per kind of request: requests, errors,
throughput, p50/p95/p99/max latency, and the peak RSS (VmHWM) summed over the server's processes;
then, for pages and VTT, p99 over the run, over each client's first request (which opens its
connection: with every client starting at once these are the burst) and over the requests after
it. Target on 2 cores: p99 < 100 ms for pages and VTT at 200 clients, no errors.

Servers (``--servers``): ``werkzeug``; ``waitress`` (``shiur serve --processes 1``); ``waitress-N``
(N processes; ``shiur serve`` starts one per core); ``floor``, an app that only returns 6 KB under
one waitress process with the same settings: the load client and the server alone, on the same
cores, which no app can beat on this machine.

Timings on a shared machine are noisy: this prints figures and asserts nothing.

    .venv/bin/python bench/load.py [--clients 200] [--seconds 15] [--servers werkzeug,waitress,waitress-2,floor]
        [--think 1.0] [--kinds library,player,vtt,audio] [--ramp 0]   (BENCH_THREADS=N: waitress threads)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_CLIENTS = 200
MAX_SECONDS = 60
RANGE_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 30.0
"""A request taking longer than this counts as an error (the dev server's backlog overflow
showed as 27.8 s waits)."""
KINDS = ("library", "player", "vtt", "audio")
PAGE_KINDS = ("library", "player", "vtt")
"""What the target is for: p99 < 100 ms for pages and VTT."""
THINK_S = 1.0
"""Mean pause of a listener between requests (exponentially distributed, so arrivals are
bursty): a playing browser asks for the next audio range every few seconds, a listener opens a
page now and then; one request a second per listener is a heavy class. --think 0 makes every
client ask again at once (a saturation test, where latency only measures the queue)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_library(root: Path) -> tuple[dict[str, str], str]:
    """A library with the sample class; returns the server's environment and the class's slug."""
    from player import create_app
    from player.sample import make_sample_recording

    lib = root / "library"
    env = {**os.environ, "SHIUR_LIBRARY": str(lib), "SHIUR_MEDIA": str(ROOT / "media"), "SHIUR_NO_WORKER": "1",
           "SHIUR_SECRET_KEY": "bench-only"}
    marker = lib / ".sample-made"
    if not marker.exists():
        shutil.rmtree(lib, ignore_errors=True)
        os.environ.update({k: env[k] for k in ("SHIUR_LIBRARY", "SHIUR_MEDIA")})
        app = create_app()
        make_sample_recording(app.config["DATABASE"], lib, ROOT / "media" / "mimaamakim-5725.txt")
    return env, marker.read_text(encoding="utf-8").strip()


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.first_error: str = ""
        # Each client's first request (it opens the connection; with every client starting at
        # once these form the burst), and every later request for pages and VTT.
        self.first: list[float] = []
        self.later_pages: list[float] = []

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        self.first_error = self.first_error or f"{kind}: {what}"


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                   extra: str = "") -> tuple[int, bytes, bool]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n{extra}\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        body = await reader.read()
    keep = headers.get("connection", "").lower() != "close" and lines[0].startswith("HTTP/1.1")
    return status, body, keep


async def client(port: int, slug: str, audio_size: int, stop_at: float, stats: Stats, seed: int,
                 think: float = THINK_S, kinds: tuple[str, ...] = KINDS, ramp: float = 0.0) -> None:
    rnd = random.Random(seed)
    if ramp > 0:
        await asyncio.sleep(rnd.uniform(0, ramp))
    plan = [("library", "/", ""), ("player", f"/r/{slug}", ""), ("vtt", f"/r/{slug}/passages.vtt", ""),
            ("vtt", f"/r/{slug}/paragraphs.vtt", "")]
    plan = [p for p in plan if p[0] in kinds]
    audio_share = 4 if "audio" in kinds else 0
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    cycle = len(plan) + audio_share
    i = rnd.randrange(cycle)
    first = True
    while time.monotonic() < stop_at:
        if i % cycle < len(plan):
            kind, path, extra = plan[i % cycle]
        else:
            start = rnd.randrange(0, max(1, audio_size - RANGE_BYTES))
            kind, path, extra = "audio", f"/r/{slug}/audio", f"Range: bytes={start}-{start + RANGE_BYTES - 1}\r\n"
        i += 1
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT_S)
            status, _body, keep = await asyncio.wait_for(_request(*conn, path, extra), REQUEST_TIMEOUT_S)
            ok = status in (200, 206)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            ok, keep, status = False, False, type(e).__name__
        elapsed = time.perf_counter() - t0
        if ok:
            stats.latency[kind].append(elapsed)
            if first:
                stats.first.append(elapsed)
            elif kind in PAGE_KINDS:
                stats.later_pages.append(elapsed)
        else:
            stats.error(kind, str(status))
        first = False
        if not keep and conn is not None:
            conn[1].close()
            conn = None
        if think > 0:
            await asyncio.sleep(min(rnd.expovariate(1.0 / think), 10 * think))
    if conn is not None:
        conn[1].close()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the server processes of ``shiur serve --processes N``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for f in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(x) for x in f.read_text().split()]
            except OSError:
                pass
    return out


def _peak_rss_kib(pid: int) -> int:
    """Peak resident memory (VmHWM) summed over the server's process tree."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


SETTLE_S = 3.0
"""Wait after the server's first answer before the clients start: a multi-process server holds
its port from the start, and its other processes are still starting when the first answers."""


def _wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            # An HTTP answer, not just a connection: the port may be held before the app is up.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=5):
                time.sleep(SETTLE_S)
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def server_command(kind: str, port: int) -> list[str]:
    """How to start a server of ``kind``: ``werkzeug``, ``waitress`` (one process), ``waitress-N``
    (N processes; ``shiur serve`` starts one per core) or ``floor`` (see serve_floor)."""
    if kind == "floor":
        return [sys.executable, __file__, "--serve-floor", str(port)]
    server, _, processes = kind.partition("-")
    cmd = [str(Path(sys.executable).with_name("shiur")), "serve", "--server", server, "--port", str(port),
           "--no-worker", "--no-sample"]
    if server == "waitress":
        cmd += ["--processes", processes or "1"]
        if os.environ.get("BENCH_THREADS"):
            cmd += ["--threads", os.environ["BENCH_THREADS"]]
    return cmd


FLOOR_BODY = b"x" * 6000


def serve_floor(port: int) -> None:
    """The floor: an app that does nothing but return 6 KB, under one waitress process with
    ``shiur serve``'s settings. What it measures is the load client and the server itself, on
    the same cores; no app can be faster than this on this machine."""
    import waitress

    from player import create_app
    from player.cli import waitress_options

    def app(_environ: dict, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(FLOOR_BODY)))])  # type: ignore[operator]
        return [FLOOR_BODY]

    options = waitress_options(create_app({"TESTING": True}))
    waitress.serve(app, host="127.0.0.1", port=port, _quiet=True, **options)


def run_one(kind: str, env: dict[str, str], slug: str, audio_size: int, clients: int, seconds: float,
            think: float = THINK_S, kinds: tuple[str, ...] = KINDS, ramp: float = 0.0) -> dict:
    port = _free_port()
    cmd = server_command(kind, port)
    log = open(ROOT / "bench" / "out" / "load" / f"{kind}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_up(port, proc)
        stats = Stats()

        async def main() -> float:
            stop_at = time.monotonic() + seconds
            t0 = time.monotonic()
            await asyncio.gather(*(client(port, slug, audio_size, stop_at, stats, n, think, kinds, ramp)
                                   for n in range(clients)))
            return time.monotonic() - t0

        cpu0 = time.process_time()
        server_cpu0 = _cpu_seconds(proc.pid)
        wall = asyncio.run(main())
        client_cpu = time.process_time() - cpu0
        server_cpu = _cpu_seconds(proc.pid) - server_cpu0
        rss = _peak_rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return {"server": kind, "stats": stats, "wall": wall, "rss_kib": rss, "client_cpu": client_cpu / wall,
            "server_cpu": server_cpu / wall}


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the server's process tree, from /proc (its own CPU use during the run)."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def report(results: list[dict], clients: int, think: float) -> None:
    print(f"\n{clients} concurrent keep-alive clients on loopback, mean think time {think:g} s, "
          f"{os.cpu_count()} cores, load average before: {os.getloadavg()[0]:.1f}")
    head = (f"{'server':<11} {'request':<8} {'count':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'max ms':>8} {'peak RSS':>9}")
    print(head)
    print("-" * len(head))
    for r in results:
        st: Stats = r["stats"]
        every = [x for k in KINDS for x in st.latency[k]]
        rows = [(k, st.latency[k], st.errors[k]) for k in KINDS]
        rows.append(("all", every, sum(st.errors.values())))
        for name, lat, err in rows:
            if not lat and not err:
                continue
            print(f"{r['server']:<11} {name:<8} {len(lat):>7} {err:>6} {len(lat) / r['wall']:>7.0f} "
                  f"{1000 * _pct(lat, 0.50):>8.1f} {1000 * _pct(lat, 0.95):>8.1f} {1000 * _pct(lat, 0.99):>8.1f} "
                  f"{1000 * max(lat, default=float('nan')):>8.1f} {r['rss_kib'] / 1024:>7.0f} MB")
        print(f"{r['server']:<11} CPU: server {100 * r['server_cpu']:.0f} %, load client {100 * r['client_cpu']:.0f} % "
              "(of one core)")
        pages = [x for k in PAGE_KINDS for x in st.latency[k]]
        print(f"{r['server']:<11} pages+VTT p99 {1000 * _pct(pages, 0.99):.1f} ms over the run; "
              f"each client's first request (connecting, {len(st.first)}): p50 {1000 * _pct(st.first, 0.5):.1f} "
              f"p99 {1000 * _pct(st.first, 0.99):.1f} max {1000 * max(st.first, default=float('nan')):.1f} ms; "
              f"pages+VTT after it: p99 {1000 * _pct(st.later_pages, 0.99):.1f} ms")
        if st.first_error:
            print(f"{r['server']:<11} first error: {st.first_error}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=MAX_CLIENTS)
    ap.add_argument("--seconds", type=float, default=15.0, help="per server")
    ap.add_argument("--servers", default="werkzeug,waitress,waitress-2,floor",
                    help="werkzeug, waitress (1 process), waitress-N (N processes), floor (a do-nothing app)")
    ap.add_argument("--think", type=float, default=THINK_S, help="mean seconds between a client's requests")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"requests to make, of {','.join(KINDS)}")
    ap.add_argument("--ramp", type=float, default=0.0,
                    help="start the clients spread over this many seconds (default: all at once)")
    ap.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    clients = max(1, min(args.clients, MAX_CLIENTS))
    seconds = max(1.0, min(args.seconds, MAX_SECONDS))
    root = ROOT / "bench" / "out" / "load"
    root.mkdir(parents=True, exist_ok=True)
    env, slug = build_library(root)
    folder = root / "library" / slug
    audio = next(p for p in folder.iterdir() if p.name.startswith(("stream", "audio", "original", "sample")))
    # Each client needs a socket; 200 is within the default limit of 1024, but say so plainly if not.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < clients + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, clients + 256), hard))
    kinds = tuple(k for k in args.kinds.split(",") if k in KINDS) or KINDS
    results = [run_one(kind, env, slug, audio.stat().st_size, clients, seconds, args.think, kinds, args.ramp)
               for kind in args.servers.split(",")]
    report(results, clients, args.think)
    if args.ramp:
        print(f"clients started over the first {args.ramp:g} s")


if __name__ == "__main__":
    main()
