"""Archivist web and CLI: per-recording downloads, catalogue export, attaching existing cue files."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import srt
import webvtt
from click.testing import CliRunner

from player import library
from player.db import connect
from sync.alignment import Alignment, cue_ids
from sync.transcript import Segment, Transcript, Word
from sync.writers import ordered_cues


def _folder(app, recording) -> Path:
    return library.recording_dir(app.config["LIBRARY_DIR"], recording)


def _vtt(body: bytes) -> list[webvtt.Caption]:
    return webvtt.from_buffer(io.StringIO(body.decode("utf-8"))).captions


def _login(client, app) -> None:
    from player.auth import create_user

    conn = connect(app.config["DATABASE"])
    try:
        create_user(conn, "archivist", "a long enough password", role="admin")
        uid = conn.execute("SELECT id FROM users WHERE username = 'archivist'").fetchone()["id"]
    finally:
        conn.close()
    with client.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = "token"


def test_downloads_page_lists_every_format(client, recording):
    resp = client.get(f"/r/{recording.slug}/downloads")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    for fmt in ("vtt", "chapters", "srt", "json", "bundle"):
        assert f"/r/{quote(recording.slug)}/download/{fmt}" in page
    assert "/download/txt" not in page  # no transcript for this recording
    assert client.get("/r/no-such-recording/downloads").status_code == 404


def test_vtt_download_matches_the_library_files_and_parses(client, app, recording, synced):
    resp = client.get(f"/r/{recording.slug}/download/vtt")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/vtt")
    assert f"{quote(recording.slug)}-passages.vtt" in resp.headers["Content-Disposition"]
    got = _vtt(resp.data)
    cues = ordered_cues(synced.alignment)
    assert [c.identifier for c in got] == cue_ids(cues)
    assert [c.text for c in got] == [synced.discourse.passage(c.passage_id).text for c in cues]
    assert resp.data == (_folder(app, recording) / "passages.vtt").read_bytes()

    chapters = _vtt(client.get(f"/r/{recording.slug}/download/chapters").data)
    assert [c.identifier.split(".")[0] for c in chapters] == ["p1", "p2", "p3", "p1"]


def test_cue_text_option_in_downloads(client, recording, synced):
    ids = _vtt(client.get(f"/r/{recording.slug}/download/vtt?cue_text=id").data)
    assert [c.text for c in ids] == [c.passage_id for c in ordered_cues(synced.alignment)]
    subs = list(srt.parse(client.get(f"/r/{recording.slug}/download/srt?cue_text=words:2").get_data(as_text=True)))
    first = synced.discourse.passage("p1.1").text.split()
    assert subs[0].content == " ".join(first[:2]) + "…"
    assert client.get(f"/r/{recording.slug}/download/vtt?cue_text=everything").status_code == 400
    assert client.get(f"/r/{recording.slug}/download/docx").status_code == 404


def test_full_json_carries_provenance_and_corrections(client, app, recording):
    conn = connect(app.config["DATABASE"])
    try:
        conn.execute("INSERT INTO pins (recording_id, passage_id, start) VALUES (?, 'p2.1', 8.0)", (recording.id,))
        conn.commit()
    finally:
        conn.close()
    doc = json.loads(client.get(f"/r/{recording.slug}/download/json").data)
    assert doc["meta"]["model"] == "test"
    assert doc["meta"]["recording"]["title"] == recording.title
    assert {"kind": "pin", "passage_id": "p2.1", "start": 8.0} in doc["corrections"]
    assert all("confidence" in c and "words" in c for c in doc["cues"])
    assert len(doc["passages"]) == 6


def test_transcript_and_bundle(client, app, recording):
    folder = _folder(app, recording)
    t = Transcript(21.0, "he", [Segment(0.5, 3.0, " שיר המעלות", [Word(0.5, 1.0, " שיר", 0.9)])], model="bundled-base")
    t.save(folder / "transcript.json")
    assert client.get(f"/r/{recording.slug}/download/txt").get_data(as_text=True) == "שיר המעלות\n"

    resp = client.get(f"/r/{recording.slug}/download/bundle")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        names = set(zf.namelist())
        assert zf.read("audio.wav") == (folder / recording.audio_path).read_bytes()
        meta = json.loads(zf.read("metadata.json"))
    assert {"passages.vtt", "paragraphs.vtt", "passages.srt", "full.json", "transcript.txt", "metadata.json"} <= names
    assert meta["title"] == recording.title and meta["lecturer"] == "הרב כהן"


def test_unpublished_recordings_are_hidden_from_listeners(client, app, recording):
    conn = connect(app.config["DATABASE"])
    try:
        conn.execute("UPDATE recordings SET published = 0 WHERE id = ?", (recording.id,))
        conn.commit()
    finally:
        conn.close()
    assert client.get(f"/r/{recording.slug}/download/vtt").status_code == 404
    assert json.loads(client.get("/catalogue.json").data)["recordings"] == []
    _login(client, app)
    assert client.get(f"/r/{recording.slug}/download/vtt").status_code == 200
    assert len(json.loads(client.get("/catalogue.json").data)["recordings"]) == 1


def test_catalogue_csv_and_json(client, recording):
    resp = client.get("/catalogue.csv")
    assert resp.status_code == 200 and "shiur-catalogue.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(resp.get_data(as_text=True).lstrip("\ufeff").splitlines()))
    assert len(rows) == 1
    row = rows[0]
    assert (row["slug"], row["title"], row["lecturer"], row["recorded_on"]) == (
        recording.slug, "שיעור לדוגמה", "הרב כהן", "2024-10-06",
    )  # fmt: skip
    # PLAN reads all 6 passages; 8 cues with confidence 0.9.
    assert (row["passages"], row["covered"], row["coverage_pct"], row["cues"]) == ("6", "6", "100.0", "8")
    assert float(row["mean_confidence"]) == pytest.approx(0.9)
    assert row["model"] == "test" and row["audio_file"] == recording.audio_path and row["source"] == "whisper"

    doc = json.loads(client.get("/catalogue.json").data)
    assert doc["software"].startswith("shiur-sync ") and doc["recordings"][0]["slug"] == recording.slug
    page = client.get("/catalogue").get_data(as_text=True)
    assert f"/r/{quote(recording.slug)}/downloads" in page and "שיעור לדוגמה" in page


@pytest.fixture
def cli_env(app, monkeypatch):
    monkeypatch.setenv("SHIUR_MEDIA", app.config["MEDIA_DIR"])
    monkeypatch.setenv("SHIUR_LIBRARY", app.config["LIBRARY_DIR"])
    from sync.cli import cli

    return cli


def test_cli_export_all_formats(cli_env, recording, tmp_path):
    out = tmp_path / "export"
    res = CliRunner().invoke(cli_env, ["export", recording.slug, "-o", str(out), "--format", "vtt,srt,json,bundle"])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    s = recording.slug
    assert names == sorted([f"{s}-passages.vtt", f"{s}-passages.srt", f"{s}-full.json", f"{s}.zip"])
    assert len(webvtt.read(str(out / f"{s}-passages.vtt"))) == 8
    assert len(list(srt.parse((out / f"{s}-passages.srt").read_text(encoding="utf-8")))) == 8


def test_cli_export_errors_are_one_line(cli_env, recording, tmp_path):
    res = CliRunner().invoke(cli_env, ["export", "nope", "-o", str(tmp_path)])
    assert res.exit_code == 2 and res.output.startswith("shiur: error: nope: no such recording")
    assert len(res.output.splitlines()) == 1
    res = CliRunner().invoke(cli_env, ["export", recording.slug, "-o", str(tmp_path), "--cue-text", "x"])
    assert res.exit_code == 2 and res.output.startswith("shiur: error: cue text must be")


def test_cli_catalogue(cli_env, recording, tmp_path):
    res = CliRunner().invoke(cli_env, ["catalogue"])
    assert res.exit_code == 0
    assert recording.slug in res.output and res.output.startswith("slug,title,")
    target = tmp_path / "cat.json"
    res = CliRunner().invoke(cli_env, ["catalogue", "-o", str(target)])
    assert res.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["recordings"][0]["title"] == "שיעור לדוגמה"


def test_export_then_attach_round_trip(cli_env, app, recording, synced, tmp_path):
    """Export the cues, attach the exported file back: same cues; the old files are kept."""
    out = tmp_path / "export"
    assert CliRunner().invoke(cli_env, ["export", recording.slug, "-o", str(out), "-f", "vtt"]).exit_code == 0
    exported = out / f"{recording.slug}-passages.vtt"
    folder = _folder(app, recording)
    before = Alignment.load(folder / "alignment.json")
    res = CliRunner().invoke(cli_env, ["attach", recording.slug, str(exported)])
    assert res.exit_code == 0, res.output
    after = Alignment.load(folder / "alignment.json")

    def key(a: Alignment) -> list[tuple]:
        cues = ordered_cues(a)
        ids = cue_ids(cues)
        return [(i, c.passage_id, c.kind, round(c.start, 3), round(c.end, 3)) for i, c in zip(ids, cues, strict=True)]

    assert key(after) == key(before)
    assert (folder / "passages.vtt").read_bytes() == exported.read_bytes()
    backups = list((folder / "previous").iterdir())
    assert len(backups) == 1 and (backups[0] / "alignment.json").is_file()


def test_attach_a_hand_made_srt_as_cues(cli_env, app, recording, synced, tmp_path):
    d = synced.discourse
    hand = tmp_path / "hand.srt"
    hand.write_text(
        f"1\n00:00:01,000 --> 00:00:04,000\n{d.passage('p1.1').text}\n\n"
        f"2\n00:00:04,000 --> 00:00:09,500\n{' '.join(d.passage('p2.1').tokens[:5])}…\n\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli_env, ["attach", recording.slug, str(hand)])
    assert res.exit_code == 0, res.output
    a = Alignment.load(_folder(app, recording) / "alignment.json")
    assert [(c.passage_id, c.start, c.end) for c in a.cues] == [("p1.1", 1.0, 4.0), ("p2.1", 4.0, 9.5)]


def test_bad_attachment_changes_nothing(cli_env, app, recording, tmp_path):
    folder = _folder(app, recording)
    before = (folder / "alignment.json").read_bytes()
    bad = tmp_path / "broken.vtt"
    bad.write_text("WEBVTT\n\np1.1\n00:00:01.000 --> 00:00:00.500\nx\n", encoding="utf-8")
    res = CliRunner().invoke(cli_env, ["attach", recording.slug, str(bad)])
    assert res.exit_code == 2 and "cue ends" in res.output and res.output.startswith("shiur: error: ")
    assert (folder / "alignment.json").read_bytes() == before
    assert not (folder / "previous").exists()


def test_web_attach_needs_login_and_works(client, app, recording, synced, tmp_path):
    d = synced.discourse
    body = f"WEBVTT\n\np3.1\n00:00:02.000 --> 00:00:06.000\n{d.passage('p3.1').text}\n".encode()
    anon = client.post(f"/r/{recording.slug}/attach", data={"file": (io.BytesIO(body), "x.vtt"), "mode": "cues"})
    assert anon.status_code in (400, 401, 302)
    assert Alignment.load(_folder(app, recording) / "alignment.json").cues[0].passage_id == "p1.1"

    _login(client, app)
    resp = client.post(
        f"/r/{recording.slug}/attach",
        data={"file": (io.BytesIO(body), "x.vtt"), "mode": "cues", "csrf_token": "token"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert resp.status_code == 200
    assert "attached 1 cues" in resp.get_data(as_text=True)
    cues = Alignment.load(_folder(app, recording) / "alignment.json").cues
    assert [(c.passage_id, c.start, c.end) for c in cues] == [("p3.1", 2.0, 6.0)]


def english_processor(item, workdir, options):
    """Stands in for transcribe + align in a batch: real output files for the item's own text."""
    from archive_fixtures import sample_alignment

    from sync.discourse import load_discourse
    from sync.writers import SyncResult, write_outputs

    if item.audio.stat().st_size == 0:
        raise ValueError("empty recording")
    d = load_discourse(item.text)
    a = sample_alignment(d, n=2, explained=False)
    names = ("passages.vtt", "paragraphs.vtt", "alignment.json")
    write_outputs(SyncResult(d, a, None, {"model": "test"}), workdir, names)
    return {"duration": a.duration, "passages": 2, "covered": 2, "mean_confidence": 0.5, "skipped": []}


def test_import_batch_adds_finished_items_once(cli_env, app, tmp_path):
    from archive_fixtures import ENGLISH_TEXT
    from player_fixtures import tone_wav

    from sync.batch import discover, run_batch

    src = tmp_path / "collection"
    src.mkdir()
    for key in ("one", "two"):
        tone_wav(src / f"{key}.wav", 2.0)
    (src / "broken.wav").write_bytes(b"")
    (src / "maamar.txt").write_text(ENGLISH_TEXT, encoding="utf-8")

    out = tmp_path / "batch"
    run_batch(discover(src), out, processor=english_processor, progress=False)
    res = CliRunner().invoke(cli_env, ["import-batch", str(out), "--draft"])
    assert res.exit_code == 0, res.output
    assert "2 recordings added" in res.output
    conn = connect(app.config["DATABASE"])
    try:
        recs = library.list_recordings(conn, include_unpublished=True)
        assert sorted(r.title for r in recs) == ["one", "two"] and not any(r.published for r in recs)
        assert len({r.discourse_id for r in recs}) == 1  # one shared text stored once
    finally:
        conn.close()
    again = CliRunner().invoke(cli_env, ["import-batch", str(out)])
    assert "0 recordings added" in again.output and again.output.count("already in the library") == 2


def test_player_page_links_to_the_downloads(client, recording):
    page = client.get(f"/r/{recording.slug}").get_data(as_text=True)
    assert f'href="/r/{quote(recording.slug)}/downloads"' in page


def test_downloads_page_shows_sizes_and_an_audio_download(client, app, recording, synced):
    page = client.get(f"/r/{recording.slug}/downloads").get_data(as_text=True)
    slug = quote(recording.slug)
    assert f"/r/{slug}/download/audio" in page
    sizes = dict(re.findall(r'data-fmt="(\w+)".*?data-bytes="(\d+)"', page, flags=re.S))
    assert set(sizes) == {"vtt", "chapters", "srt", "json", "audio", "bundle"}
    # The sizes are those of the files the links give.
    for fmt in ("vtt", "chapters", "srt", "json"):
        assert int(sizes[fmt]) == len(client.get(f"/r/{slug}/download/{fmt}").data), fmt
    audio = client.get(f"/r/{slug}/download/audio")
    assert audio.status_code == 200 and audio.data == synced.audio.read_bytes()
    assert int(sizes["audio"]) == synced.audio.stat().st_size
    assert "attachment" in audio.headers["Content-Disposition"] and ".wav" in audio.headers["Content-Disposition"]
    # The bundle is not zipped for the page: its size is a bound, marked as one.
    real = len(client.get(f"/r/{slug}/download/bundle").data)
    text = sum(int(sizes[f]) for f in ("vtt", "chapters", "srt", "json"))
    assert real <= int(sizes["bundle"]) <= synced.audio.stat().st_size + 2 * text + 4096
    assert "≤ " in page and " KB" in page


def test_catalogue_has_the_audio_sha256(client, app, recording, synced, monkeypatch):
    import hashlib

    digest = hashlib.sha256(synced.audio.read_bytes()).hexdigest()
    rows = list(csv.DictReader(io.StringIO(client.get("/catalogue.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["audio_sha256"] == digest
    # A library from before hashes were kept: `shiur catalogue` computes and stores them once.
    conn = connect(app.config["DATABASE"])
    conn.execute("UPDATE recordings SET audio_sha256 = NULL")
    conn.commit()
    conn.close()
    rows = list(csv.DictReader(io.StringIO(client.get("/catalogue.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["audio_sha256"] == ""  # the web page never hashes
    monkeypatch.setenv("SHIUR_MEDIA", app.config["MEDIA_DIR"])
    monkeypatch.setenv("SHIUR_LIBRARY", app.config["LIBRARY_DIR"])
    from sync.cli import cli

    res = CliRunner().invoke(cli, ["catalogue", "-f", "json"])
    assert json.loads(res.output)["recordings"][0]["audio_sha256"] == digest
    conn = connect(app.config["DATABASE"])
    assert conn.execute("SELECT audio_sha256 FROM recordings").fetchone()[0] == digest
    conn.close()
