"""Lecturer edits under pressure: concurrent editors lose nothing, a save killed or failing
midway leaves files and database agreeing, only the owner or an admin changes a recording,
and malformed edit requests get 400."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from lecturer_fixtures import add_user, login

from player.db import connect
from sync.alignment import READ, Alignment

ROOT = Path(__file__).resolve().parents[1]


def _rows(app, sql: str, *args: object) -> list:
    conn = connect(app.config["DATABASE"])
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _set_owner(app, recording, username: str | None) -> None:
    conn = connect(app.config["DATABASE"])
    uid = None
    if username:
        uid = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()["id"]
    conn.execute("UPDATE recordings SET owner_id = ? WHERE id = ?", (uid, recording.id))
    conn.commit()
    conn.close()


def _client(app, username: str):
    c = app.test_client()
    c.token = login(c, username)
    return c


def _edit(client, slug: str, **body: object):
    return client.post(f"/lecturer/r/{slug}/edit", json=body, headers={"X-CSRF-Token": client.token})


def _folder(app, recording) -> Path:
    return Path(app.config["LIBRARY_DIR"]) / recording.slug


def _vtt_starts(folder: Path) -> dict[str, float]:
    out = {}
    lines = (folder / "passages.vtt").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "-->" in line:
            h, m, s = line.split(" --> ")[0].split(":")
            out[lines[i - 1]] = round(int(h) * 3600 + int(m) * 60 + float(s), 3)
    return out


def _first_starts(folder: Path) -> dict[str, float]:
    a = Alignment.load(folder / "alignment.json")
    out: dict[str, float] = {}
    for c in sorted(a.cues, key=lambda c: c.start):
        if c.kind == READ:
            out.setdefault(c.passage_id, round(c.start, 3))
    return out


def _assert_consistent(app, recording) -> None:
    """passages.vtt is alignment.json rendered, and every pin is where alignment.json has it."""
    folder = _folder(app, recording)
    vtt = _vtt_starts(folder)
    first = _first_starts(folder)
    for pid, start in first.items():
        assert vtt[pid] == start, (pid, vtt, first)
    for r in _rows(app, "SELECT passage_id, start FROM pins WHERE recording_id = ?", recording.id):
        if r["start"] is None:
            assert r["passage_id"] not in first
        else:
            assert first[r["passage_id"]] == pytest.approx(r["start"], abs=1e-3)
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name == ".shiur-save.json"]
    assert leftovers == []


@pytest.fixture
def owned(app, recording):
    add_user(app, "rav")
    add_user(app, "boss", role="admin")
    _set_owner(app, recording, "rav")
    return recording


# ---- concurrent edits --------------------------------------------------------------------

# Each editor moves one passage's start, many times, within its own cue.
EDITORS = [("rav", "p2.1", 8.0), ("boss", "p3.1", 13.5), ("rav", "p2.2", 10.5), ("boss", "p3.2", 16.0)]
ROUNDS = 12


def test_concurrent_editors_lose_no_acknowledged_edit(app, owned):
    clients = [_client(app, who) for who, _, _ in EDITORS]
    acked: dict[str, list[float]] = {pid: [] for _, pid, _ in EDITORS}
    errors: list[str] = []
    barrier = threading.Barrier(len(EDITORS))

    def work(client, pid: str, base: float) -> None:
        barrier.wait()
        for k in range(1, ROUNDS + 1):
            t = round(base + 0.01 * k, 3)
            resp = _edit(client, owned.slug, action="set_start", passage_id=pid, time=t)
            if resp.status_code == 200:
                acked[pid].append(t)
            elif resp.status_code != 409:
                errors.append(f"{pid}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")

    threads = [threading.Thread(target=work, args=(c, pid, base)) for c, (_, pid, base) in zip(clients, EDITORS,
                                                                                               strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    folder = _folder(app, owned)
    first = _first_starts(folder)
    pins = {r["passage_id"]: r["start"] for r in _rows(app, "SELECT * FROM pins")}
    for _, pid, _ in EDITORS:
        assert acked[pid], f"no edit of {pid} was acknowledged"
        last = acked[pid][-1]  # one editor per passage, sequential: its last ack must stand
        assert first[pid] == last, (pid, first[pid], last)
        assert pins[pid] == pytest.approx(last)
    n_acked = sum(len(v) for v in acked.values())
    assert len(_rows(app, "SELECT * FROM edits WHERE action = 'set_start'")) == n_acked
    _assert_consistent(app, owned)


# ---- a save that fails or is killed midway -------------------------------------------------


def _snapshot_files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("passages.vtt", "paragraphs.vtt", "alignment.json")}


@pytest.mark.parametrize("where", ["alignment.json", "database"])
def test_exception_mid_save_changes_nothing(app, owned, monkeypatch, where):
    from player import lecturer
    from sync import writers

    folder = _folder(app, owned)
    before = _snapshot_files(folder)
    client = _client(app, "rav")

    def boom(*_a, **_k):
        raise OSError("disk full (injected)")

    if where == "alignment.json":
        monkeypatch.setattr(writers.WriteAlignmentJSON, "write_result", boom)
    else:
        monkeypatch.setattr(lecturer, "_log_edit", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = _edit(client, owned.slug, action="set_start", passage_id="p2.1", time=7.0)
    assert resp.status_code == 500
    assert _snapshot_files(folder) == before
    assert _rows(app, "SELECT * FROM pins") == [] and _rows(app, "SELECT * FROM edits") == []
    assert _rows(app, "SELECT edit_version FROM recordings")[0][0] == 0
    _assert_consistent(app, owned)


KILL_SCRIPT = r"""
import json, os, sys
from pathlib import Path
cfg, slug, stage = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
from player import create_app, lecturer
from sync import atomic
app = create_app(cfg)
if stage == "before-commit":
    # Files prepared, journal written, the database transaction not yet committed.
    lecturer._log_edit = lambda *a, **k: os._exit(9)
else:
    # The database committed; killed after the first of the three files was put in place.
    real = atomic.commit
    calls = []
    def commit(tmp, path):
        real(tmp, path)
        calls.append(path)
        if Path(path).suffix == ".vtt" or Path(path).name == "alignment.json":
            if len([c for c in calls if Path(c).name != ".shiur-save.json"]) == 1:
                os._exit(9)
    atomic.commit = commit
from player.db import connect
conn = connect(cfg["DATABASE"])
uid = conn.execute("SELECT id FROM users WHERE username = 'rav'").fetchone()[0]
conn.close()
c = app.test_client()
with c.session_transaction() as s:
    s["uid"] = uid; s["epoch"] = 0; s["csrf"] = "t"
r = c.post(f"/lecturer/r/{slug}/edit", json={"action": "set_start", "passage_id": "p2.1", "time": 7.0},
           headers={"X-CSRF-Token": "t"})
print("survived", r.status_code)
"""


@pytest.mark.parametrize("stage", ["before-commit", "after-commit"])
def test_killed_mid_save_is_rolled_back_or_completed(app, app_config, owned, stage):
    folder = _folder(app, owned)
    before = _snapshot_files(folder)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, json.dumps(app_config), owned.slug, stage],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert (folder / ".shiur-save.json").exists()  # the journal of the cut-off save
    from player import create_app

    create_app(app_config)  # a restarted server finishes or rolls back the save
    _assert_consistent(app, owned)
    if stage == "before-commit":
        assert _snapshot_files(folder) == before
        assert _rows(app, "SELECT * FROM pins") == []
    else:
        assert _first_starts(folder)["p2.1"] == 7.0 and _vtt_starts(folder)["p2.1"] == 7.0
        assert [tuple(r) for r in _rows(app, "SELECT passage_id, start FROM pins")] == [("p2.1", 7.0)]


def test_review_page_completes_an_interrupted_save(app, app_config, owned):
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, json.dumps(app_config), owned.slug, "after-commit"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    client = _client(app, "rav")  # the running server, not restarted
    assert client.get(f"/lecturer/r/{owned.slug}").status_code == 200
    _assert_consistent(app, owned)
    assert _vtt_starts(_folder(app, owned))["p2.1"] == 7.0


# ---- ownership ---------------------------------------------------------------------------


def test_only_owner_or_admin_may_change_a_recording(app, owned):
    add_user(app, "levi")
    other = _client(app, "levi")
    slug = owned.slug
    assert _edit(other, slug, action="set_start", passage_id="p2.1", time=7.0).status_code == 403
    for path, data in [("undo", {}), ("realign", {}), ("retry", {}), ("confirm", {}), ("publish", {"published": "0"}),
                       ("delete", {"confirm": slug})]:
        resp = other.post(f"/lecturer/r/{slug}/{path}", data={"csrf_token": other.token, **data})
        assert resp.status_code == 403, path
    assert other.get(f"/lecturer/r/{slug}/delete").status_code == 403
    assert _rows(app, "SELECT published FROM recordings")[0][0] == 1
    assert _folder(app, owned).is_dir() and _rows(app, "SELECT * FROM edits") == []
    assert other.get(f"/lecturer/r/{slug}").status_code == 200  # seeing it is fine

    owner = _client(app, "rav")
    assert _edit(owner, slug, action="set_start", passage_id="p2.1", time=7.0).status_code == 200
    admin = _client(app, "boss")
    assert _edit(admin, slug, action="nudge", passage_id="p2.1", delta=0.5).status_code == 200
    resp = admin.post(f"/lecturer/r/{slug}/publish", data={"csrf_token": admin.token, "published": "0"})
    assert resp.status_code == 302 and _rows(app, "SELECT published FROM recordings")[0][0] == 0


def test_unowned_recording_is_for_admins_only(app, owned):
    _set_owner(app, owned, None)
    assert _edit(_client(app, "rav"), owned.slug, action="not_read", passage_id="p2.1").status_code == 403
    assert _edit(_client(app, "boss"), owned.slug, action="not_read", passage_id="p2.1").status_code == 200


def test_upload_is_owned_by_its_uploader(app, tmp_path):
    from lecturer_fixtures import upload_form
    from player_fixtures import tone_wav

    add_user(app, "rav")
    c = _client(app, "rav")
    resp = c.post("/lecturer/upload", data=upload_form(c.token, tone_wav(tmp_path / "My Class.wav", 3.0)),
                  content_type="multipart/form-data")
    assert resp.status_code == 302
    row = _rows(app, "SELECT r.source_name, u.username FROM recordings r JOIN users u ON u.id = r.owner_id")[0]
    assert tuple(row) == ("My Class.wav", "rav")


def test_legacy_recordings_get_a_sensible_owner(tmp_path):
    """A library from before ownership: the lecturer named on the recording, else its first editor."""
    import sqlite3

    from player import migrations
    from player.db import SCHEMA

    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    conn.executescript(SCHEMA.read_text(encoding="utf-8"))
    conn.executemany("INSERT INTO users (id, username, password_hash, role, display_name) VALUES (?, ?, 'x', ?, ?)",
                     [(1, "cohen", "lecturer", "Rav Cohen"), (2, "levi", "lecturer", "Levi"),
                      (3, "boss", "admin", "Boss")])
    conn.executemany("INSERT INTO recordings (id, slug, title, lecturer) VALUES (?, ?, 't', ?)",
                     [(1, "a", "rav cohen"), (2, "b", "Someone Else"), (3, "c", "")])
    conn.execute("INSERT INTO edits (recording_id, user_id, action) VALUES (2, 2, 'publish')")
    conn.commit()
    assert "recordings.owner_id" in migrations.apply(conn)
    owners = dict(conn.execute("SELECT slug, owner_id FROM recordings").fetchall())
    assert owners == {"a": 1, "b": 2, "c": None}
    assert migrations.apply(conn) == []  # runs once


def test_owner_command(app, owned, monkeypatch):
    from click.testing import CliRunner

    from sync.cli import cli as group

    monkeypatch.setenv("SHIUR_MEDIA", app.config["MEDIA_DIR"])
    monkeypatch.setenv("SHIUR_LIBRARY", app.config["LIBRARY_DIR"])
    assert CliRunner().invoke(group, ["owner", owned.slug]).output.strip() == "rav"
    add_user(app, "levi")
    assert CliRunner().invoke(group, ["owner", owned.slug, "levi"]).exit_code == 0
    assert _edit(_client(app, "levi"), owned.slug, action="not_read", passage_id="p2.1").status_code == 200


# ---- malformed edits ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    [], [1, 2], "set_start", 5, None,
    {"action": "set_start", "passage_id": "p2.1", "time": "nan"},
    {"action": "set_start", "passage_id": "p2.1", "time": "inf"},
    {"action": "set_start", "passage_id": "p2.1", "time": "-Infinity"},
    {"action": "set_start", "passage_id": "p2.1", "time": True},
    {"action": "set_start", "passage_id": "p2.1", "time": [1]},
    {"action": "set_start", "passage_id": "p2.1", "time": {"x": 1}},
    {"action": "set_start", "passage_id": "p2.1", "time": -3},
    {"action": "set_start", "passage_id": "p2.1", "time": 1e9},
    {"action": "set_start", "passage_id": "p2.1"},
    {"action": "nudge", "passage_id": "p2.1", "delta": 1e308},
    {"action": "nudge", "passage_id": "p2.1", "delta": "nan"},
    {"action": "nudge", "passage_id": "p2.1", "delta": "1e308"},
    {"action": "nudge", "passage_id": ["p2.1"], "delta": 0.5},
    {"action": ["nudge"], "passage_id": "p2.1", "delta": 0.5},
    {"action": "explode", "passage_id": "p2.1"},
])
def test_malformed_edit_is_400_and_changes_nothing(app, owned, body):
    folder = _folder(app, owned)
    before = _snapshot_files(folder)
    c = _client(app, "rav")
    resp = c.post(f"/lecturer/r/{owned.slug}/edit", data=json.dumps(body), content_type="application/json",
                  headers={"X-CSRF-Token": c.token})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"]
    assert _snapshot_files(folder) == before and _rows(app, "SELECT * FROM edits") == []


HAMMER = r"""
import json, sys
cfg, slug, who, pid, base, rounds = json.loads(sys.argv[1]), *sys.argv[2:4], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
from player import create_app
from player.db import connect
app = create_app(cfg)
conn = connect(cfg["DATABASE"])
uid = conn.execute("SELECT id FROM users WHERE username = ?", (who,)).fetchone()[0]
conn.close()
c = app.test_client()
with c.session_transaction() as s:
    s["uid"] = uid; s["epoch"] = 0; s["csrf"] = "t"
acked = []
for k in range(1, rounds + 1):
    t = round(base + 0.01 * k, 3)
    r = c.post(f"/lecturer/r/{slug}/edit", json={"action": "set_start", "passage_id": pid, "time": t},
               headers={"X-CSRF-Token": "t"})
    if r.status_code == 200:
        acked.append(t)
    elif r.status_code != 409:
        print("ERROR", r.status_code, r.get_data(as_text=True)[:300]); sys.exit(1)
print(json.dumps(acked))
"""


def test_concurrent_editors_in_separate_processes(app, app_config, owned):
    """Two server processes (or a server and its worker) edit one recording at once."""
    procs = [subprocess.Popen([sys.executable, "-c", HAMMER, json.dumps(app_config), owned.slug, who, pid, str(base),
                               "8"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who, pid, base in EDITORS[:2]]
    results = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, out + err
    first = _first_starts(_folder(app, owned))
    pins = {r["passage_id"]: r["start"] for r in _rows(app, "SELECT * FROM pins")}
    for (_, pid, _), (out, _) in zip(EDITORS[:2], results, strict=True):
        acked = json.loads(out.strip().splitlines()[-1])
        assert acked and first[pid] == acked[-1] and pins[pid] == pytest.approx(acked[-1])
    _assert_consistent(app, owned)
