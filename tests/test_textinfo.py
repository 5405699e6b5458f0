"""`shiur text`: structure report, spoken readings, unknown abbreviations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sync.cli import cli
from sync.discourse import load_discourse, parse_discourse
from sync.textinfo import describe, display_word, spoken_line

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "media" / "mimaamakim-5725.txt"

SMALL = """בס"ד. ש"פ וילך, ה'תשכ"ה

(הנחה בלתי מוגה)

שיר המעלות ממעמקים קראתיך הוי'1, ואיתא בזהר משא"כ בחי' העצם שבר"ה כו'. ועוד משפט שני כאן עם זקצ"ף לא ידוע.

ב) ולהבין זה צריך להקדים משנת"ל2 ההפרש בין ר"ה למ"ת.
"""


def test_describe_shows_structure_front_matter_and_footnotes() -> None:
    out = describe(parse_discourse(SMALL), name="small.txt")
    assert "Text: small.txt" in out
    assert "Paragraphs: 2" in out
    assert '| בס"ד. ש"פ וילך, ה\'תשכ"ה' in out
    assert "| (הנחה בלתי מוגה)" in out
    assert "p1 " in out and "p2  section ב)" in out
    assert "p1.1" in out and "p1.2" in out and "p2.1" in out
    assert "[1] after הוי'" in out
    assert '[2] after משנת"ל' in out
    assert "spoken:" not in out


def test_spoken_shows_expansions() -> None:
    d = parse_discourse(SMALL)
    line = spoken_line(d.passage("p1.1"))
    assert "{הויה|" in line
    assert "{מה שאין כן}" in line
    assert "{שבראש השנה}" in line
    assert "{בחינת|בחינה|בחינות}" in line
    out = describe(d, spoken=True)
    assert "spoken: " in out


def test_unknown_lists_unknown_with_counts() -> None:
    out = describe(parse_discourse(SMALL), unknown=True)
    assert "Unknown abbreviations (matched only as written" in out
    assert '1  זקצ"ף' in out
    assert "p1.1" not in out  # --unknown alone is just the list
    spoken = spoken_line(parse_discourse(SMALL).passage("p1.2"))
    assert '{?זקצ"ף}' in spoken


def test_display_word_restores_final_letters() -> None:
    assert display_word("שלומ") == "שלום"
    assert display_word("כנ") == "כן"
    assert display_word("ב") == "ב"


def test_sample_has_no_unknown_abbreviations() -> None:
    out = describe(load_discourse(SAMPLE), unknown=True)
    assert "Unknown abbreviations: none" in out


def test_cli_text_command(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text(SMALL, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["text", str(path)])
    assert res.exit_code == 0, res.output
    assert "p2.1" in res.output
    res = runner.invoke(cli, ["text", str(path), "--spoken"])
    assert "{מה שאין כן}" in res.output
    res = runner.invoke(cli, ["text", str(path), "--unknown"])
    assert 'זקצ"ף' in res.output


def test_cli_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", "from sync.cli import main; main()", "text", str(tmp_path / "nope.txt")],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0
    assert res.stderr.strip().startswith("shiur: error:")
    assert "nope.txt" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_spoken_shows_how_the_name_is_read() -> None:
    d = parse_discourse("וַיִּיצֶר יְהוָה אֱלֹהִים אֶת־הָאָדָם עָפָר מִן־הָאֲדָמָה׃\n")
    assert "{אדני|אדוני|השם}" in spoken_line(d.passages()[0])
