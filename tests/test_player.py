"""Listener side through Flask's test client: library, player markup, audio/VTT serving, import."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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


# --- issue 13: library counts, search, stored search form ----------------------------------------


def test_library_counts_leave_out_drafts_and_agree_in_number(app: Flask, client: FlaskClient, synced: Any) -> None:
    assert library.count_classes(0) == ("אין שיעורים", "no classes")
    assert library.count_classes(1) == ("שיעור אחד", "1 class")
    assert library.count_classes(2) == ("שני שיעורים", "2 classes")
    assert library.count_classes(7) == ("7 שיעורים", "7 classes")
    _add(app, synced, "שיעור ראשון", lecturer="הרב כהן")
    _add(app, synced, "טיוטה", lecturer="הרב כהן", published=False)
    html = client.get("/").get_data(as_text=True)
    assert "1 שיעורים" not in html
    assert '<p class="count" role="status">שיעור אחד · <bdi lang="en">1 class</bdi></p>' in html
    # The discourse of the fixture has one published class (and a draft that is not counted).
    assert "· שיעור אחד <bdi lang=\"en\">(1 class)</bdi>" in html
    assert "(2 classes)" not in html
    # The sample discourse, with none.
    assert "· אין שיעורים <bdi lang=\"en\">(no classes)</bdi>" in html
    conn = _conn(app)
    did = library.add_discourse_file(conn, synced.text)
    counts = {r["id"]: r["n_recordings"] for r in library.list_discourses(conn, include_unpublished=True)}
    conn.close()
    assert counts[did] == 2  # a signed-in lecturer sees the draft counted


def test_library_search_looks_inside_the_text(app: Flask, client: FlaskClient, synced: Any) -> None:
    _add(app, synced, 'ש"פ וילך', lecturer="הרב כהן")

    def titles(query: str) -> list[str]:
        html = client.get("/", query_string={"q": query}).get_data(as_text=True)
        return re.findall(r'<h2><a href="/r/[^"]+">([^<]+)</a></h2>', html)

    found = ['ש&#34;פ וילך']
    assert titles("ההתחלקות") == found  # a word only in the discourse text (paragraph 3)
    assert titles("הַהִתְחַלְּקוּת") == found  # with niqqud
    assert titles("ההתחלקת") == found  # defective spelling
    assert titles("נצבים היום") == found  # every word must be there, anywhere
    assert titles("נצבים אבגדהו") == []
    assert titles("ש״פ") == found  # gershayim matches the title's ASCII quote
    assert titles('ש"פ') == found


def test_search_form_is_stored_and_old_libraries_are_migrated(tmp_path: Path, app_config: dict[str, Any]) -> None:
    import sqlite3

    from player import create_app

    lib = Path(app_config["LIBRARY_DIR"])
    lib.mkdir(parents=True)
    old = sqlite3.connect(app_config["DATABASE"])
    old.execute("CREATE TABLE discourses (id INTEGER PRIMARY KEY, slug TEXT UNIQUE NOT NULL, title TEXT NOT NULL,"
                " text TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')))")
    old.execute("INSERT INTO discourses (slug, title, text) VALUES ('old', 'ישן', 'בראשית ברא אלהים את השמים')")
    old.commit()
    old.close()
    app = create_app(app_config)
    conn = _conn(app)
    row = conn.execute("SELECT text, search_text FROM discourses WHERE slug = 'old'").fetchone()
    assert row["text"] == "בראשית ברא אלהים את השמים"  # nothing lost
    assert row["search_text"] == library.search_form(row["text"]) == " ברשת בר אלהמ את השממ "
    new = library.add_discourse(conn, "ויאמר אלהים יהי אור")
    stored = conn.execute("SELECT search_text FROM discourses WHERE id = ?", (new,)).fetchone()[0]
    assert stored == library.search_form("ויאמר אלהים יהי אור")
    conn.close()


def test_library_page_reads_no_discourse_text(app: Flask, client: FlaskClient, synced: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _add(app, synced, "שיעור", lecturer="הרב כהן")
    from player import db

    statements: list[str] = []
    real_connect = db.connect

    def traced(path: str) -> Any:
        conn = real_connect(path)
        conn.set_trace_callback(statements.append)
        return conn

    def no_parsing(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the library page parsed a discourse text")

    monkeypatch.setattr(db, "connect", traced)
    monkeypatch.setattr(library, "parse_discourse", no_parsing)
    for q in ("", "ההתחלקות", "הרב"):
        assert client.get("/", query_string={"q": q}).status_code == 200
    reads_text = [s for s in statements if re.search(r"\bd\.\*|\bd\.text\b|SELECT \* FROM discourses|\btext\b,", s)]
    assert statements and reads_text == []


# --- issue 13: files, headers, exports -----------------------------------------------------------


def test_favicon_manifest_and_service_worker(client: FlaskClient) -> None:
    fav = client.get("/favicon.ico")
    assert fav.status_code == 200 and fav.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    m = client.get("/manifest.webmanifest")
    assert m.headers["Content-Type"] == "application/manifest+json; charset=utf-8"
    doc = m.get_json(force=True)
    assert doc["display"] == "standalone" and doc["lang"] == "he" and doc["dir"] == "rtl"
    for icon in doc["icons"]:
        r = client.get(icon["src"])
        assert r.status_code == 200, icon
        if icon["type"] == "image/png":
            n = int(icon["sizes"].split("x")[0])
            assert r.data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(r.data[16:20], "big") == n
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["Content-Type"]
    assert sw.headers["Service-Worker-Allowed"] == "/" and b"shiur-classes" in sw.data
    page = client.get("/").get_data(as_text=True)
    assert 'rel="manifest"' in page and 'rel="icon"' in page


def test_content_type_declares_the_charset_once(client: FlaskClient, recording: library.Recording) -> None:
    slug = recording.slug
    urls = ["/", f"/r/{slug}", f"/d/{recording.discourse_slug}", f"/d/{recording.discourse_slug}/keys.json",
            f"/r/{slug}/passages.vtt", f"/r/{slug}/paragraphs.vtt", f"/r/{slug}/words.json", "/manifest.webmanifest",
            "/static/shiur.css", "/static/player.js", "/sw.js"]
    if "archivist.catalogue" in client.application.view_functions:
        urls += [f"/r/{slug}/downloads", "/catalogue.csv", "/catalogue.json"]
        urls += [f"/r/{slug}/download/{f}" for f in ("vtt", "chapters", "srt", "json")]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        ct = r.headers["Content-Type"]
        assert ct.count("charset") <= 1, (url, ct)
        if not ct.startswith(("image/", "audio/", "application/zip")):
            assert ct.endswith("charset=utf-8"), (url, ct)


def test_transcript_txt_has_no_bidi_controls(tmp_path: Path, synced: Any) -> None:
    from sync.transcript import Segment, Transcript
    from sync.writers import SyncResult, get_writer

    segs = [Segment(0.0, 2.0, "\u202bשיר המעלות ממעמקים.\u202c"), Segment(2.0, 4.0, " \u200fקראתיך \u2067הוי'\u2069 ")]
    result = SyncResult(synced.discourse, synced.alignment, Transcript(4.0, "he", segs), {})
    path = get_writer("transcript.txt", tmp_path)(result)
    assert path.read_text(encoding="utf-8") == "שיר המעלות ממעמקים.\nקראתיך הוי'\n"


def _shiur(args: list[str], library_dir: Path) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "SHIUR_LIBRARY": str(library_dir)}
    return subprocess.run([sys.executable, "-c", "from sync.cli import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_export_of_the_bundled_sample_exports_what_exists(app: Flask, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (.ci/setup installs it): the bundled sample cannot be made")
    from player.sample import make_sample_recording

    lib = Path(app.config["LIBRARY_DIR"])
    slug = make_sample_recording(app.config["DATABASE"], lib, Path(app.config["SAMPLE_TEXT"]))
    res = _shiur(["export", slug, "-o", str(tmp_path / "out")], lib)
    assert res.returncode == 0, res.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"{slug}-{n}" for n in ("passages.vtt", "paragraphs.vtt", "passages.srt", "full.json")) + [
        f"{slug}.zip"]
    assert f"wrote 5 files for {slug}" in res.stdout
    assert "left out: transcript.txt (no transcript" in res.stderr
    # Only the transcript asked for: nothing can be exported, which is an error (exit status 2).
    res = _shiur(["export", slug, "-o", str(tmp_path / "none"), "-f", "txt"], lib)
    assert res.returncode == 2 and "shiur: error:" in res.stderr and "nothing to export" in res.stderr


# --- issue 13: player page, discourse page -------------------------------------------------------


def test_pages_have_no_inline_scripts_or_handlers(client: FlaskClient, recording: library.Recording) -> None:
    for url in ("/", f"/r/{recording.slug}", f"/d/{recording.discourse_slug}", "/d/mimaamakim-5725"):
        html = client.get(url).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert not re.search(r"<script\b[^>]*>[^<]+</script>", html.replace('type="application/json"', "")), url
        assert not re.search(r"\son[a-z]+\s*=", html), url


def test_player_contents_panel_markup(client: FlaskClient, recording: library.Recording) -> None:
    html = client.get(f"/r/{recording.slug}").get_data(as_text=True)
    nav = html[html.index('<section class="panel" id="panel-toc"'):]
    nav = nav[: nav.index("</section>")]
    assert '<nav aria-labelledby="panel-toc-h">' in nav and '<ol class="toc">' in nav
    items = re.findall(r'<li class="toc-item state-([a-z-]+)">\s*<a class="toc-link" href="#(p\d+)" data-p="p\d+">'
                       r'.*?<span class="toc-time" dir="ltr">([^<]+)</span>', nav, re.S)
    # The fixture: p1 read at 0.5 and explained, p2 read at 8.0, p3 read at 13.5.
    assert items == [("explained", "p1", "0:00"), ("read", "p2", "0:08"), ("read", "p3", "0:13")]
    assert "נקרא והוסבר" in nav and "read and explained" in nav


def test_search_keys_for_the_player(client: FlaskClient, recording: library.Recording, synced: Any) -> None:
    keys = client.get(f"/d/{recording.discourse_slug}/keys.json").get_json()
    assert list(keys) == [p.id for p in synced.discourse.passages()]
    p11 = synced.discourse.passage("p1.1")
    assert keys["p1.1"].split(" ") == [library.search_key(t) or "_" for t in p11.tokens]
    assert client.get("/d/nope/keys.json").status_code == 404


def test_discourse_page_lists_every_class_per_paragraph(app: Flask, client: FlaskClient, synced: Any) -> None:
    a = _add(app, synced, "שיעור א", lecturer="הרב כהן")
    b = _add(app, synced, "שיעור ב", lecturer="הרב לוי")
    _add(app, synced, "טיוטה", lecturer="הרב גרין", published=False)
    html = client.get(f"/d/{a.discourse_slug}").get_data(as_text=True)
    p2 = html[html.index('id="p2"'):html.index('id="p3"')]
    links = re.findall(r'<li><a href="(/r/[^"]+)">([^<]+)</a>\s*<span class="at" dir="ltr">([^<]+)</span>', p2)
    links = [(unquote(href), *rest) for href, *rest in links]  # url_for percent-encodes Hebrew slugs
    assert links == [(f"/r/{a.slug}?t=8.0", "הרב כהן", "0:08"), (f"/r/{b.slug}?t=8.0", "הרב לוי", "0:08")]
    assert "הרב גרין" not in html  # drafts stay hidden from listeners
