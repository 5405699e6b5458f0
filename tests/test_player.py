"""Listener side through Flask's test client: library, player markup, audio/VTT serving, import."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from player import library
from player.db import connect
from sync.errors import ShiurError


def _conn(app: Flask) -> Any:
    return connect(app.config["DATABASE"])


def _add(app: Flask, synced: Any, title: str, **kw: Any) -> library.Recording:
    conn = _conn(app)
    try:
        did = library.add_discourse_file(conn, synced.text)
        return library.import_recording(conn, Path(app.config["LIBRARY_DIR"]), synced.outdir, synced.audio, did,
                                        title=title, **kw)
    finally:
        conn.close()


# --- library -----------------------------------------------------------------------------------


def test_sample_discourse_in_library_on_first_run(app: Flask, client: FlaskClient) -> None:
    conn = _conn(app)
    rows = library.list_discourses(conn)
    assert [r["slug"] for r in rows] == ["mimaamakim-5725"]
    # Creating the app again (a restart) does not add it twice.
    from player import create_app

    create_app(dict(app.config))
    assert len(library.list_discourses(conn)) == 1
    conn.close()
    page = client.get("/").get_data(as_text=True)
    assert "עדיין אין שיעורים" in page and "No classes yet" in page
    assert "shiur add" in page  # the empty library explains how to add a class
    assert "/d/mimaamakim-5725" in page


def test_discourse_page_renders_every_passage_and_token(client: FlaskClient) -> None:
    from sync.discourse import load_discourse

    d = load_discourse(Path(__file__).resolve().parents[1] / "media" / "mimaamakim-5725.txt")
    html = client.get("/d/mimaamakim-5725").get_data(as_text=True)
    assert 'dir="rtl"' in html and 'lang="he"' in html
    for p in d.passages():
        start = html.index(f'<span class="ps" id="{p.id}">')
        ends = [i for i in (html.find('<span class="ps"', start + 1), html.find("</p>", start)) if i > 0]
        assert html[start : min(ends)].count('<span class="w">') == len(p.tokens), p.id
    # Section letters and paragraph numbers.
    assert '<span class="sec" aria-hidden="true">ב</span>' in html
    assert f'<span class="num" aria-hidden="true">{len(d.paragraphs)}</span>' in html


def test_library_lists_and_filters(app: Flask, client: FlaskClient, synced: Any) -> None:
    _add(app, synced, "שיעור ראשון", lecturer="הרב כהן", recorded_on="2024-10-06")
    _add(app, synced, "Second class", lecturer="Rabbi Levi", recorded_on="2023-01-02")
    _add(app, synced, "טיוטה", lecturer="הרב כהן", published=False)

    def titles(query: str) -> list[str]:
        html = client.get("/" + query).get_data(as_text=True)
        return re.findall(r'<h2><a href="/r/[^"]+">([^<]+)</a></h2>', html)

    assert titles("") == ["שיעור ראשון", "Second class"]  # newest first, the draft hidden
    assert titles("?q=ראשון") == ["שיעור ראשון"]
    assert titles("?q=levi") == ["Second class"]  # lecturer, case-insensitive
    assert titles("?lecturer=Rabbi+Levi") == ["Second class"]
    assert titles("?from=2024-01-01") == ["שיעור ראשון"]
    assert titles("?to=2023-12-31") == ["Second class"]
    assert titles("?length=short") == ["שיעור ראשון", "Second class"]
    assert titles("?length=long") == []
    assert titles("?sort=title") == ["Second class", "שיעור ראשון"]
    assert titles("?q=%25") == []  # LIKE wildcards are literal
    html = client.get("/?q=nothing-matches").get_data(as_text=True)
    assert "No classes match" in html
    # Library cards carry lecturer, date, duration and discourse.
    html = client.get("/").get_data(as_text=True)
    assert "הרב כהן" in html and "2024-10-06" in html and "0:21" in html


def test_drafts_hidden_from_anonymous_listeners(app: Flask, client: FlaskClient, synced: Any) -> None:
    rec = _add(app, synced, "טיוטה", published=False)
    assert client.get(f"/r/{rec.slug}").status_code == 404
    assert client.get(f"/r/{rec.slug}/audio").status_code == 404
    assert client.get(f"/r/{rec.slug}/passages.vtt").status_code == 404


# --- player page and files ---------------------------------------------------------------------


def test_player_page_markup(client: FlaskClient, recording: library.Recording, synced: Any) -> None:
    from urllib.parse import quote

    html = client.get(f"/r/{recording.slug}").get_data(as_text=True)
    url = f"/r/{quote(recording.slug)}"  # a Hebrew slug is percent-encoded in links
    assert f'<track kind="metadata" id="track-passages" src="{url}/passages.vtt"' in html
    assert f'<track kind="chapters" id="track-paragraphs" src="{url}/paragraphs.vtt"' in html
    assert f'src="{url}/audio"' in html
    for p in synced.discourse.passages():
        assert f'id="{p.id}"' in html
    assert "שיעור לדוגמה" in html and "הרב כהן" in html
    assert 'aria-label="נגן השיעור · Class player"' in html
    # Every asset is local: no absolute http(s) URL in the page at all.
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_vtt_served_as_text_vtt(client: FlaskClient, recording: library.Recording, synced: Any) -> None:
    for name in ("passages.vtt", "paragraphs.vtt"):
        r = client.get(f"/r/{recording.slug}/{name}")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/vtt; charset=utf-8"
        assert r.data == (synced.outdir / name).read_bytes()
    assert client.get(f"/r/{recording.slug}/alignment.vtt").status_code == 404


def test_audio_range_requests(client: FlaskClient, recording: library.Recording, synced: Any) -> None:
    data = synced.audio.read_bytes()
    full = client.get(f"/r/{recording.slug}/audio")
    assert full.status_code == 200
    assert full.headers["Content-Type"] == "audio/wav"
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.data == data
    part = client.get(f"/r/{recording.slug}/audio", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert part.data == data[1000:2000]
    tail = client.get(f"/r/{recording.slug}/audio", headers={"Range": f"bytes={len(data) - 10}-"})
    assert tail.status_code == 206 and tail.data == data[-10:]
    bad = client.get(f"/r/{recording.slug}/audio", headers={"Range": f"bytes={len(data) + 10}-"})
    assert bad.status_code == 416


@pytest.mark.parametrize(
    ("suffix", "mime"),
    [(".m4a", "audio/mp4"), (".ogg", "audio/ogg"), (".opus", "audio/ogg"), (".mp3", "audio/mpeg"),
     (".webm", "audio/webm"), (".wav", "audio/wav"), (".flac", "audio/flac"), (".wma", None)],
)
def test_audio_mime_types(suffix: str, mime: str | None) -> None:
    assert library.audio_type(f"x{suffix.upper()}") == mime


def test_word_timings_keyed_by_cue_id(client: FlaskClient, recording: library.Recording, synced: Any) -> None:
    words = client.get(f"/r/{recording.slug}/words.json").get_json()
    # Read cues carry words, explanations none; the re-reading has its own id.
    assert set(words) == {"p1.1", "p1.2", "p2.1", "p2.2", "p3.1", "p3.2", "p1.1.r2"}
    p21 = synced.discourse.passage("p2.1")
    assert [w[0] for w in words["p2.1"]] == list(range(len(p21.tokens)))
    assert words["p2.1"][0][1] == pytest.approx(8.0)


def test_word_timings_without_stored_ids(tmp_path: Path, synced: Any) -> None:
    # An alignment.json written by Alignment.to_dict() (no "id" per cue) gets the writers' ids.
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "alignment.json").write_text(json.dumps(synced.alignment.to_dict()), encoding="utf-8")
    assert "p1.1.r2" in library.word_timings(folder)
    assert library.word_timings(tmp_path / "missing") == {}


def test_missing_recording_is_404(client: FlaskClient) -> None:
    assert client.get("/r/nope").status_code == 404
    assert client.get("/d/nope").status_code == 404


# --- import ------------------------------------------------------------------------------------


def test_import_copies_files_into_library(app: Flask, recording: library.Recording, synced: Any) -> None:
    folder = library.recording_dir(app.config["LIBRARY_DIR"], recording)
    assert folder.parent == Path(app.config["LIBRARY_DIR"])
    assert (folder / "original.wav").read_bytes() == synced.audio.read_bytes()
    for name in ("passages.vtt", "paragraphs.vtt", "alignment.json"):
        assert (folder / name).is_file()
    assert recording.duration == pytest.approx(21.0)
    assert recording.published and recording.status == "ready"
    assert recording.stream_path == "original.wav"
    assert synced.audio.is_file()  # copied, not moved


def test_import_unique_slugs(app: Flask, synced: Any) -> None:
    a = _add(app, synced, "ממעמקים", recorded_on="2024-10-06")
    b = _add(app, synced, "ממעמקים", recorded_on="2024-10-06")
    assert a.slug == "2024-10-06-ממעמקים"
    assert b.slug == "2024-10-06-ממעמקים-2"


def test_import_bad_input_keeps_library_intact(app: Flask, synced: Any, tmp_path: Path) -> None:
    good = _add(app, synced, "טוב")
    broken = tmp_path / "broken"
    shutil.copytree(synced.outdir, broken)
    (broken / "passages.vtt").unlink()
    with pytest.raises(ShiurError, match="missing passages.vtt"):
        _add(app, type(synced)(broken, synced.audio, synced.text, synced.discourse, synced.alignment), "רע")
    with pytest.raises(ShiurError, match="audio file not found"):
        _add(app, type(synced)(synced.outdir, tmp_path / "none.mp3", synced.text, synced.discourse,
                               synced.alignment), "רע")
    conn = _conn(app)
    assert [r.slug for r in library.list_recordings(conn, include_unpublished=True)] == [good.slug]
    conn.close()
    assert sorted(p.name for p in Path(app.config["LIBRARY_DIR"]).iterdir() if p.is_dir()) == [good.slug]


def test_same_discourse_text_stored_once(app: Flask, synced: Any) -> None:
    conn = _conn(app)
    a = library.add_discourse_file(conn, synced.text)
    b = library.add_discourse_file(conn, synced.text)
    assert a == b
    with pytest.raises(ShiurError, match="not found"):
        library.add_discourse_file(conn, synced.text.with_name("missing.txt"))
    conn.close()


def test_slugify_keeps_hebrew_readable() -> None:
    from sync import batch, slugs

    assert slugs.slugify("Shiur on Vayelech 5785!") == "shiur-on-vayelech-5785"
    assert slugs.slugify("שבת שובה") == "שבת-שובה"
    # Niqqud no longer splits a word into letters (it used to give "b-r-ash-yt").
    assert slugs.slugify("בְּרֵאשִׁית בָּרָא") == "בראשית-ברא"
    assert slugs.slugify('ש"פ וילך, תשכ״ה') == "שפ-וילך-תשכה"
    assert slugs.slugify("???", "x") == "x"
    long = slugs.slugify("שיעור ארוך " * 20)
    assert len(long) <= slugs.MAX_SLUG_CHARS and not long.endswith("-") and long.startswith("שיעור-ארוך")
    assert library.recording_slug("בראשית א׳", "2026-12-02") == "2026-12-02-בראשית-א"
    # Batch keys are the same slugify, keeping case, dots and underscores of file names.
    assert batch.key_for("2024/Lesson.5_a") == "2024-Lesson.5_a"
    # The one slugify: the library and the batch use it, nothing defines another.
    assert library.slugify is slugs.slugify and batch.slugify is slugs.slugify


def test_hebrew_slugs_work_in_every_url(app: Flask, client, synced: Any) -> None:
    from urllib.parse import quote

    rec = _add(app, synced, "שבת שובה", recorded_on="2024-10-06")
    assert rec.slug == "2024-10-06-שבת-שובה"
    assert (Path(app.config["LIBRARY_DIR"]) / rec.slug / "passages.vtt").is_file()
    encoded = quote(rec.slug)
    page = client.get(f"/r/{encoded}")
    assert page.status_code == 200 and f"/r/{encoded}/audio" in page.get_data(as_text=True)
    assert client.get(f"/r/{encoded}/audio").status_code == 200
    assert client.get(f"/r/{encoded}/passages.vtt").data.startswith(b"WEBVTT")
    dl = client.get(f"/r/{encoded}/download/vtt")
    assert dl.status_code == 200 and quote(f"{rec.slug}-passages.vtt") in dl.headers["Content-Disposition"]


def test_format_duration() -> None:
    assert library.format_duration(None) == ""
    assert library.format_duration(75) == "1:15"
    assert library.format_duration(3 * 3600 + 5) == "3:00:05"


def test_cli_import(app: Flask, synced: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.cli import cli

    monkeypatch.setenv("SHIUR_LIBRARY", app.config["LIBRARY_DIR"])
    runner = CliRunner()
    res = runner.invoke(cli, ["import", str(synced.outdir), str(synced.audio), str(synced.text), "--title",
                              "מהשורה", "--lecturer", "הרב", "--date", "2024-10-06"])
    assert res.exit_code == 0, res.output
    assert "/r/2024-10-06-מהשורה" in res.output
    conn = _conn(app)
    rec = library.get_recording(conn, "2024-10-06-מהשורה")
    conn.close()
    assert rec is not None and rec.lecturer == "הרב" and rec.published
    res = runner.invoke(cli, ["import", str(synced.outdir), str(synced.audio), str(synced.text), "--title", "x",
                              "--date", "6/10/2024"])
    assert res.exit_code == 2 and "shiur: error: --date '6/10/2024': use YYYY-MM-DD" in res.output
    assert "serve" in runner.invoke(cli, ["--help"]).output


def test_english_discourse_is_laid_out_left_to_right() -> None:
    from sync.discourse import parse_discourse

    assert parse_discourse("In the beginning God created the heaven and the earth.").direction == "ltr"
    assert parse_discourse("בראשית ברא אלהים את השמים ואת הארץ.").direction == "rtl"


def test_catalogue_is_in_the_main_navigation(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert 'href="/catalogue"' in page
