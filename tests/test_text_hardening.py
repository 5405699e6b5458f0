"""Texts as people really save them: UTF-16 without a byte-order mark gets a hint that says
what to do, and invisible bidi control characters never reach the cue text."""

from __future__ import annotations

import io
import json
import sys

import pytest

from sync import writers
from sync.alignment import Alignment, Cue
from sync.discourse import decode_text, parse_discourse
from sync.errors import TextError

HEBREW = "בראשית ברא אלקים את השמים ואת הארץ.\n\nוהארץ היתה תהו ובהו וחשך על פני תהום.\n"
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("encoding,order", [("utf-16-le", "LE"), ("utf-16-be", "BE")])
@pytest.mark.parametrize("text", [HEBREW, "The first paragraph.\n\nThe second paragraph.\n"])
def test_utf16_without_bom_gets_a_hint(encoding, order, text):
    with pytest.raises(TextError) as e:
        decode_text(text.encode(encoding), "maamar.txt")
    msg = str(e.value)
    assert msg.startswith("maamar.txt: not UTF-8 text") and f"UTF-16 ({order}) saved without a byte-order mark" in msg
    assert "save it as UTF-8" in msg


def test_utf16_with_bom_still_reads_and_junk_gets_no_utf16_hint():
    assert decode_text(HEBREW.encode("utf-16"), "x") == HEBREW
    with pytest.raises(TextError) as e:
        decode_text(bytes(range(256)) * 8, "junk.bin")
    assert "UTF-16" not in str(e.value)


def test_sync_names_the_utf16_problem_in_one_line(monkeypatch, capsys, tmp_path):
    from sync.cli import main

    text = tmp_path / "maamar.txt"
    text.write_bytes(HEBREW.encode("utf-16-le"))
    audio = tmp_path / "class.wav"
    audio.write_bytes(b"RIFF")
    monkeypatch.setattr(sys, "argv", ["shiur", "sync", str(audio), str(text), "-o", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err.startswith("shiur: error: ") and "UTF-16 (LE) saved without a byte-order mark" in err


def test_upload_of_a_utf16_text_file_shows_the_hint(app, tmp_path):
    from lecturer_fixtures import add_user, login, upload_form
    from player_fixtures import tone_wav

    add_user(app)
    c = app.test_client()
    token = login(c)
    data = upload_form(token, tone_wav(tmp_path / "class.wav", 3.0), text_source="file",
                       text_file=(io.BytesIO(HEBREW.encode("utf-16-le")), "maamar.txt"))
    resp = c.post("/lecturer/upload", data=data, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "UTF-16 (LE) saved without a byte-order mark" in resp.get_data(as_text=True)


def _result(text: str) -> writers.SyncResult:
    d = parse_discourse(text)
    cues = [Cue(p.id, i * 3.0, i * 3.0 + 2.5, "read", 0.9) for i, p in enumerate(d.passages())]
    return writers.SyncResult(d, Alignment(cues=cues, skipped=[], duration=20.0))


def test_bidi_controls_are_stripped_from_cue_text(tmp_path):
    dirty = ("\u202bבראשית\u202c ברא \u200fאלקים\u200f את \u2067השמים\u2069 ואת הארץ.\n\n"
             "\u202eוהארץ היתה\u200e תהו ובהו\u2066 וחשך.\n")
    res = _result(dirty)
    files = writers.write_outputs(res, tmp_path, ("passages.vtt", "paragraphs.vtt", "alignment.json"))
    for ch in BIDI:
        for f in files:
            assert ch not in f.read_text(encoding="utf-8"), (f.name, hex(ord(ch)))
    vtt = (tmp_path / "passages.vtt").read_text(encoding="utf-8")
    assert "בראשית ברא אלקים את השמים ואת הארץ." in vtt
    doc = json.loads((tmp_path / "alignment.json").read_text(encoding="utf-8"))
    assert doc["cues"][0]["text"] == "בראשית ברא אלקים את השמים ואת הארץ."
    srt = writers.get_writer("passages.srt", tmp_path)(res).read_text(encoding="utf-8")
    assert not any(ch in srt for ch in BIDI) and "והארץ היתה תהו ובהו וחשך." in srt
