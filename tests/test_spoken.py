"""The spoken-alternatives lattice: table, prefix rule, geresh forms, Aramaic endings, numerals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync.abbreviations import AbbreviationTable, abbreviation_key, default_table
from sync.discourse import load_discourse, parse_discourse
from sync.errors import TextError
from sync.hebrew import is_abbreviation, normalize, token_core, words
from sync.numerals import gematria, number_words, year_value
from sync.spoken import (
    abbreviation_sources,
    passage_lattice,
    read_token,
    token_alternatives,
    unknown_abbreviations,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "media" / "mimaamakim-5725.txt"
SHARED = ROOT.parent / "shared"


def phrase(text: str) -> tuple[str, ...]:
    return tuple(words(text))


# Hand-checked: each written token and one way a lecturer says it (not necessarily the only one).
HAND_CHECKED = [
    ('שבר"ה', "שבראש השנה"),
    ('ובעשי"ת', "ובעשרת ימי תשובה"),
    ('דמ"ת', "דמתן תורה"),
    ('כאו"א', "כל אחד ואחד"),
    ('לכאו"א', "לכל אחד ואחד"),
    ('משא"כ', "מה שאין כן"),
    ('ועאכו"כ', "ועל אחת כמה וכמה"),
    ("בחי'", "בחינת"),
    ("מבחי'", "מבחינת"),
    ("בבחי'", "בבחינת"),
    ("שבחי'", "שבחינת"),
    ("הוי'", "הויה"),
    ("למימרי'", "למימריה"),
    ("מיני'", "מיניה"),
    ("כו'", "כולי"),
    ("וכו'", "וכולי"),
    ("גו'", "גומר"),
    ("הי'", "היה"),
    ("שהי'", "שהיה"),
    ("יהי'", "יהיה"),
    ("ית'", "יתברך"),
    ('דר"ה', "דראש השנה"),
    ('מר"ה', "מראש השנה"),
    ('הקב"ה', "הקדוש ברוך הוא"),
    ('בהקב"ה', "בקדוש ברוך הוא"),
    ('וכמשנת"ל', "וכמו שנתבאר לעיל"),
    ('שזהו"ע', "שזהו ענין"),
    ('שהו"ע', "שהוא ענין"),
    ('ממ"ש', "ממה שכתוב"),
    ('ועפ"ז', "ועל פי זה"),
    ('שע"י', "שעל ידי"),
    ('ואעפ"כ', "ואף על פי כן"),
    ('ובכ"מ', "ובכמה מקומות"),
    ('שבנש"י', "שבנשמות ישראל"),
    ('רמ"ח', "רמח"),
    ('רמ"ח', "מאתיים ארבעים ושמונה"),
    ('דרמ"ח', "דרמח"),
    ('רשב"י', "רשבי"),
    ('רשב"י', "רבי שמעון בר יוחאי"),
    ('הרשב"י', "הרשבי"),
    ('אדמו"ר', "אדמור"),
    ('כמארז"ל', "כמאמר רזל"),
    ('ס"ג', "סג"),
    ('ס"ג', "שישים ושלוש"),
    ('(כנ"ל', "כנזכר לעיל"),
    ('ס"ד),', "סעיף ד"),
    ('ה\'תשכ"ה', "תשכה"),
    ('ה\'תשכ"ה', "חמשת אלפים שבע מאות עשרים וחמש"),
    ("בד'", "בארבעה"),
    ("בב'", "בשני"),
    ("לד'", "לארבע"),
    ('ל"ב', "שלושים ושתיים"),
    ('ט"ו', "חמש עשרה"),
    ("משא״כ", "מה שאין כן"),  # Hebrew gershayim
    ("בחי׳", "בחינה"),  # Hebrew geresh
    ('ח"ו', "חס ושלום"),
    ('תק"ש', "תקיעת שופר"),
    ('וא"כ', "ואם כן"),
    ("ר'", "רבי"),
]


@pytest.mark.parametrize(("token", "spoken"), HAND_CHECKED)
def test_hand_checked_spoken_forms(token: str, spoken: str) -> None:
    alts = token_alternatives(token)
    assert phrase(spoken) in alts, f"{token}: {alts}"


def test_hand_checked_table_is_big_enough() -> None:
    assert len(HAND_CHECKED) >= 30
    assert len({t for t, _ in HAND_CHECKED}) >= 30


@pytest.mark.parametrize("token", ['שבר"ה', "בחי'", "שיר", "ממעמקים,", 'ה\'תשכ"ה', "על־ידי", "אור/כלי", 'ע"י-זה'])
def test_first_alternative_is_the_written_form(token: str) -> None:
    assert token_alternatives(token)[0] == tuple(words(token))


def test_plain_word_has_only_its_written_form() -> None:
    assert token_alternatives("ממעמקים,") == [("ממעמקימ",)]
    assert token_alternatives("שָׁלוֹם") == [("שלומ",)]


def test_token_without_letters_gives_empty_alternative() -> None:
    assert token_alternatives("—") == [()]
    assert token_alternatives("(") == [()]


def test_maqaf_splits_words_and_expands_each_part() -> None:
    alts = token_alternatives('על־פי־ע"י')
    assert alts[0] == ("על", "פי", "עי")
    assert ("על", "פי", "על", "ידי") in alts


def test_alternatives_are_normalised_keys() -> None:
    for token in ('משא"כ', "בחי'", 'ה\'תשכ"ה', 'שבר"ה'):
        for alt in token_alternatives(token):
            for w in alt:
                assert w == normalize(w)


def test_prefix_is_a_rule_not_a_list() -> None:
    table = default_table()
    # None of these prefixed forms is in the table, yet all resolve through their base.
    for token, base in [('ושבר"ה', 'ר"ה'), ('וכשבמ"ת', 'מ"ת'), ("ולבחי'", "בחי'"), ('ודעשי"ת', 'עשי"ת')]:
        assert table.get(token) is None
        (reading,) = read_token(token)
        assert reading.source == "prefix", token
        assert table.get(base) is not None


def test_unknown_abbreviation_keeps_written_form_and_is_reported() -> None:
    d = parse_discourse("פסקה ראשונה עם קיצור לא ידוע זקצ\"ף ושוב זקצ\"ף ועוד מילים.\n")
    assert token_alternatives('זקצ"ף') == [("זקצפ",)]
    assert unknown_abbreviations(d) == {'זקצ"ף': 2}


def test_unknown_in_front_matter_is_reported_too() -> None:
    d = parse_discourse('בס"ד. קשק"ש\n\nפסקה ראשונה של הטקסט עם מילים רבות.\n')
    assert unknown_abbreviations(d)['קשק"ש'] == 1


def test_passage_lattice_is_per_token() -> None:
    d = parse_discourse('וזהו מ"ש בחי\' העצם שבר"ה ועשי"ת.\n')
    p = d.passages()[0]
    lattice = passage_lattice(p)
    assert len(lattice) == len(p.tokens)
    assert ("מה", "שכתוב") in lattice[1]


def test_custom_table_is_used() -> None:
    table = AbbreviationTable.from_text('# test\nזקצ"ף\tזה קיצור\tgeneral\n')
    assert ("וזה", "קיצור") in token_alternatives('וזקצ"ף', table)


def test_bad_table_line_names_the_line() -> None:
    with pytest.raises(TextError, match=":2:"):
        AbbreviationTable.from_text('א"א\tאי אפשר\nשורה בלי טאב\n')


def test_numerals() -> None:
    assert gematria("רמח") == 248
    assert gematria("סג") == 63
    assert gematria("טו") == 15
    assert gematria("תשכה") == 725
    assert gematria("משאכ") is None  # an abbreviation, not a number
    assert gematria("מש") is None
    assert number_words(248) == "מאתיים ארבעים ושמונה"
    assert number_words(63) == "שישים ושלוש"
    assert number_words(5725) == "חמשת אלפים שבע מאות עשרים וחמש"
    assert number_words(12, feminine=False) == "שנים עשר"
    assert year_value("התשכה") == 5725
    assert year_value("תשכה") == 5725


# ---- the table itself ----


def test_table_has_at_least_400_entries() -> None:
    assert len(default_table()) >= 400


def test_table_entries_are_well_formed() -> None:
    for e in default_table().entries():
        assert abbreviation_key(e.abbr) is not None
        assert e.forms, e.abbr
        for f in e.forms:
            assert words(f), (e.abbr, f)
            assert not re.search(r"[A-Za-z]", f), (e.abbr, f)


# ---- the sample discourse ----


def _sample_abbreviation_tokens() -> list[str]:
    d = load_discourse(SAMPLE)
    toks = [t for p in d.passages() for t in p.tokens]
    toks += [t for block in d.front_matter for t in block.split()]
    return [t for t in toks if is_abbreviation(token_core(t))]


def test_sample_counts_match_the_issue() -> None:
    toks = _sample_abbreviation_tokens()
    cores = {token_core(t) for t in toks}
    assert len(toks) >= 250
    assert 100 <= len(cores) <= 130


def test_every_abbreviation_in_the_sample_resolves() -> None:
    missing = []
    for tok in _sample_abbreviation_tokens():
        alts = token_alternatives(tok)
        readings = read_token(tok)
        if len(alts) < 2 or not all(r.known for r in readings if r.is_abbreviation):
            missing.append(tok)
    assert not missing, missing
    assert unknown_abbreviations(load_discourse(SAMPLE)) == {}


def test_sample_is_mostly_resolved_by_the_table() -> None:
    sources = abbreviation_sources(load_discourse(SAMPLE))
    assert sources["unknown"] == 0
    assert sources["table"] + sources["prefix"] >= 0.9 * sum(sources.values())


def test_shared_copy_of_the_sample_resolves_too() -> None:
    path = SHARED / "texts" / "mimaamakim-5725.txt"
    if not path.exists():
        pytest.skip("../shared/texts is not present on this machine")
    assert unknown_abbreviations(load_discourse(path)) == {}


def test_the_name_is_read_adonai_or_hashem() -> None:
    assert ("אדני",) in token_alternatives("יְהוָה")
    assert ("השמ",) in token_alternatives("יהוה")
    assert ("לאדוני",) in token_alternatives("לַיהוָה")
    assert ("לשמ",) in token_alternatives("לַיהוָה")  # "לַשֵּׁם": the article elides after ל
    assert ("ואדני",) in token_alternatives("וַיהוָה")
    # Pointed with Elohim's vowels it is read Elohim.
    assert token_alternatives("יֱהֹוִה")[1] == ("אלהימ",)
    assert ("אדני", "אלהימ") in token_alternatives("יְהוָ֥ה־אֱלֹהִ֖ים")
    (reading,) = read_token("יהוה")
    assert reading.known and not reading.is_abbreviation


def test_bible_text_with_niqqud_has_no_unknown_abbreviations() -> None:
    d = parse_discourse("בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים אֵ֥ת הַשָּׁמַ֖יִם וְאֵ֥ת הָאָֽרֶץ׃\n\nוַיִּיצֶר֩ יְהוָ֨ה אֱלֹהִ֜ים אֶת־הָֽאָדָ֗ם׃\n")
    assert unknown_abbreviations(d) == {}
    assert sum(abbreviation_sources(d).values()) == 0


def test_two_apostrophe_gershayim_reads_like_gershayim() -> None:
    assert ("מה", "שאינ", "כנ") in token_alternatives("משא''כ")


def test_day_of_month_letters_also_read_as_numbers() -> None:
    alts = token_alternatives('כ"ה')
    assert ("כנ", "הוא") in alts  # the abbreviation
    assert ("עשרימ", "וחמישה") in alts  # כ"ה אלול
    assert ("בעשרימ", "וחמישה") in token_alternatives('בכ"ה')
    assert ("מכל", "מקומ") in token_alternatives('מ"מ') and len(token_alternatives('מ"מ')) == 2


def test_sync_warns_about_abbreviations_the_table_does_not_know(tmp_path) -> None:
    from sync.discourse import parse_discourse
    from sync.pipeline import _warn_unknown_abbreviations

    said: list[str] = []
    _warn_unknown_abbreviations(parse_discourse('שיר המעלות ממעמקים קראתיך, וכן בזקשט"ב כמבואר שם.'), said.append)
    assert len(said) == 1 and 'בזקשט"ב' in said[0]
    said.clear()
    _warn_unknown_abbreviations(parse_discourse('שיר המעלות ממעמקים קראתיך, משא"כ בחי\' הכלים.'), said.append)
    assert said == []
