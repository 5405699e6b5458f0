"""Normalisation keys, token cores and the spelling-insensitive similarity."""

from __future__ import annotations

import pytest

from sync.hebrew import (
    canonical_quotes,
    is_abbreviation,
    normalize,
    similarity,
    skeleton,
    spelling_similarity,
    strip_marks,
    token_core,
    words,
)


def test_normalize_strips_niqqud_cantillation_and_folds_finals() -> None:
    assert normalize("שָׁלוֹם") == "שלומ"
    assert normalize("בְּרֵאשִׁ֖ית") == "בראשית"
    assert normalize("הָאָֽרֶץ׃") == "הארצ"


@pytest.mark.parametrize(
    "written",
    ['משא"כ', "משא״כ", "משא”כ", 'משא"כ,', '(משא"כ)'],
)
def test_normalize_ignores_gershayim_in_every_form(written: str) -> None:
    assert normalize(written) == "משאכ"


@pytest.mark.parametrize("written", ["בחי'", "בחי׳", "בחי’"])
def test_normalize_ignores_geresh_in_every_form(written: str) -> None:
    assert normalize(written) == "בחי"


def test_words_split_on_maqaf_and_hyphen() -> None:
    assert words("על־ידי זה") == ["על", "ידי", "זה"]
    assert words("בני-ישראל.") == ["בני", "ישראל"]


def test_strip_marks_keeps_letters_and_punctuation() -> None:
    assert strip_marks("שָׁלוֹם, עוֹלָם.") == "שלום, עולם."


def test_canonical_quotes_folds_hebrew_and_typographic_marks() -> None:
    assert canonical_quotes("ר״ה ובחי׳") == "ר\"ה ובחי'"
    assert canonical_quotes("ר”ה") == 'ר"ה'


@pytest.mark.parametrize(
    ("token", "core"),
    [
        ('(כנ"ל', 'כנ"ל'),
        ("כו'.", "כו'"),
        ('ס"ד),', 'ס"ד'),
        ('"שיר', "שיר"),
        ("הוי'1", "הוי'"),  # footnote digit of raw text
        ("בחי׳", "בחי'"),
        ('ה\'תשכ"ה', 'ה\'תשכ"ה'),
    ],
)
def test_token_core(token: str, core: str) -> None:
    assert token_core(token) == core


def test_is_abbreviation() -> None:
    assert is_abbreviation('משא"כ')
    assert is_abbreviation("בחי'")
    assert is_abbreviation("ד'")
    assert not is_abbreviation("שיר")
    assert not is_abbreviation('"')
    assert not is_abbreviation("")


def test_skeleton_ignores_vowel_letters_inside_words() -> None:
    assert skeleton(normalize("כולם")) == skeleton(normalize("כלם"))
    assert skeleton(normalize("מדריגות")) == skeleton(normalize("מדרגות"))
    # The first letter is a prefix or root letter, never a vowel letter.
    assert skeleton("ויאמר").startswith("ו")


def test_similarity_prefers_full_vs_defective_spelling_match() -> None:
    assert similarity("כלמ", "כולמ") >= 0.9
    assert similarity("מדריגות", "מדרגות") >= 0.9
    assert similarity("שלומ", "שלומ") == 1.0
    assert similarity("", "שלומ") == 0.0
    assert similarity("בחינת", "תשובה") < 0.5


def test_spelling_similarity_is_the_second_similarity() -> None:
    assert spelling_similarity("אלקימ", "אלוקימ") == 1.0
    assert spelling_similarity("ראשונ", "אחרונ") < 1.0


def test_two_apostrophes_between_letters_are_gershayim() -> None:
    assert canonical_quotes("משא''כ") == 'משא"כ'
    assert token_core("משא''כ,") == 'משא"כ'
    assert normalize("משא''כ") == "משאכ"
