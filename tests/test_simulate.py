"""Invariants of the simulated-shiur generator (bench/simulate.py)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import simulate  # noqa: E402

from sync.discourse import load_discourse  # noqa: E402
from sync.hebrew import normalize  # noqa: E402
from sync.transcript import Transcript  # noqa: E402


@pytest.fixture(scope="module")
def discourse():
    return load_discourse(ROOT / "media" / "mimaamakim-5725.txt")


@pytest.fixture(scope="module")
def case(discourse):
    return simulate.generate(discourse, simulate.SimConfig(seed=7, noise="harsh"))


def test_segments_tile_the_duration(case):
    segs = case.truth["segments"]
    assert segs[0]["start"] == 0.0
    assert segs[-1]["end"] == case.truth["duration"]
    for a, b in zip(segs, segs[1:], strict=False):
        assert a["end"] == b["start"]
        assert a["end"] > a["start"]
    assert {s["kind"] for s in segs} == {"silence", "read", "commentary"}


def test_skipped_paragraphs_and_passages_have_no_read_segment(case, discourse):
    read_paras = {s["paragraph"] for s in case.truth["segments"] if s["kind"] == "read"}
    read_passages = {s["passage"] for s in case.truth["segments"] if s["kind"] == "read"}
    assert case.truth["skipped"], "the default shiur skips a whole paragraph"
    assert not read_paras & set(case.truth["skipped"])
    assert not read_passages & set(case.truth["skipped_passages"])
    # every passage is either read or listed as skipped
    assert read_passages | set(case.truth["skipped_passages"]) == {p.id for p in discourse.passages()}
    for n in case.truth["skipped"]:
        assert all(p.id in case.truth["skipped_passages"] for p in discourse.paragraph(f"p{n}").passages)


def test_quotes_lie_inside_commentary_about_the_explained_paragraph(case):
    quotes = [q for q in case.truth["quotes"] if q["passage"]]
    assert quotes and any(q["foreign"] for q in quotes)
    comments = [s for s in case.truth["segments"] if s["kind"] == "commentary"]
    for q in quotes:
        seg = next(s for s in comments if s["start"] <= q["start"] and q["end"] <= s["end"])
        assert seg["about"] == q["about"]
        assert q["foreign"] == (q["passage"] != seg["about_passage"])


def test_shiur_has_rereads_and_out_of_order_reading(case):
    read = [s for s in case.truth["segments"] if s["kind"] == "read"]
    assert any(s.get("reread") for s in read)
    a, b = case.truth["simulation"]["swapped_paragraphs"]
    first_a = next(i for i, s in enumerate(read) if s["paragraph"] == int(a[1:]))
    first_b = next(i for i, s in enumerate(read) if s["paragraph"] == int(b[1:]))
    assert first_b < first_a, "the second paragraph of the swapped pair is read first"


def test_words_truth_matches_passage_tokens(case, discourse):
    for w in case.truth["words"][:300]:
        assert discourse.passage(w["passage"]).tokens[w["token"]] == w["word"]
        assert w["start"] < w["end"]


def test_deterministic_per_seed(discourse):
    cfg = simulate.SimConfig(seed=3, noise="clean")
    a, b = simulate.generate(discourse, cfg), simulate.generate(discourse, cfg)
    assert a.truth == b.truth
    assert a.transcript.to_dict() == b.transcript.to_dict()
    c = simulate.generate(discourse, replace(cfg, seed=4))
    assert c.transcript.to_dict() != a.transcript.to_dict()


def test_noise_levels(discourse):
    stats = {
        n: simulate.generate(discourse, simulate.SimConfig(seed=1, noise=n, reading=True)).truth["simulation"]["stats"]
        for n in ("none", "clean", "harsh")
    }
    assert stats["none"]["word_error_rate"] == 0.0
    assert 0.05 < stats["clean"]["word_error_rate"] < stats["harsh"]["word_error_rate"] < 0.8


def test_reading_speed_and_transcript_shape(discourse, tmp_path):
    case = simulate.generate(discourse, simulate.SimConfig(seed=2, reading=True, noise="none"))
    assert 2.0 <= case.truth["simulation"]["stats"]["read_words_per_second"] <= 3.2
    out = simulate.write_case(case, tmp_path / "c", "text")
    tr = Transcript.load(out / "transcript.json")
    words = tr.words()
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert all(w.end <= tr.duration for w in words)


def test_abbreviations_are_spoken_expanded():
    assert simulate.spoken_alternatives('משא"כ')[0] == ["מה", "שאין", "כן"]
    assert simulate.spoken_alternatives("בחי'")[0] == ["בחינת"]
    first = simulate.spoken_alternatives('שבר"ה')[0]
    assert [normalize(w) for w in first] == ["שבראש", "השנה"]
    assert simulate.spoken_alternatives("(דלא")[0] == ["דלא"]


def test_longer_class_and_truncated_class(discourse):
    cfg = simulate.SimConfig(seed=5, noise="clean")
    base = simulate.generate(discourse, cfg).truth
    long = simulate.generate(discourse, replace(cfg, length=3)).truth
    assert 2.4 < long["duration"] / base["duration"] < 3.6
    short = simulate.generate(discourse, replace(cfg, minutes=10)).truth
    assert abs(short["duration"] - 600) < 120
    assert short["simulation"]["not_reached"]
    assert len(short["skipped"]) > len(base["skipped"])


# --- the other bench instruments' pure parts: remix's speech rule and plan, scale's long text ---


def test_remix_voiced_span_follows_the_corpus_rule():
    import numpy as np
    import remix

    sr = remix.SR
    loud = 10 ** (-20 / 20) * np.sqrt(2)  # a sine at -20 dBFS RMS
    t = np.arange(sr) / sr
    sig = np.zeros(3 * sr, dtype=np.float32)
    sig[int(0.5 * sr) : int(0.52 * sr)] = loud * np.sin(2 * np.pi * 440 * t[: int(0.02 * sr)])  # 20 ms burst
    sig[sr : 2 * sr] = loud * np.sin(2 * np.pi * 440 * t)
    start, end = remix.voiced_span(sig)
    assert abs(start - 1.0) <= 0.01 and abs(end - 2.0) <= 0.01
    assert remix.voiced_span(np.zeros(sr, dtype=np.float32)) is None
    bed = remix.noise_bed(sr, np.random.default_rng(0))
    assert remix.voiced_span(bed) is None, "the -62 dBFS noise bed is silence by the -40 dBFS rule"


def test_remix_plan_reads_every_verse_but_the_skipped():
    import random

    import numpy as np
    import remix

    verses = {v: remix.Clip("read", np.zeros(10, dtype=np.float32), paragraph=v) for v in range(1, 32)}
    for name, recipe in remix.RECIPES.items():
        events, info = remix.plan(recipe, verses, random.Random(name))
        assert events[0] == ("comment", None)
        read = [v for k, v in events if k == "read"]
        assert set(read) == set(verses) - set(info["skipped"])
        assert len(info["skipped"]) == recipe.skips
        assert len(read) - len(set(read)) == recipe.rereads
        assert read[: len(verses)] != sorted(read[: len(verses)]), "some verses are read out of order"


def test_scale_text_is_long_and_not_a_plain_repeat():
    import scale

    from sync.discourse import parse_discourse

    d = parse_discourse(scale.long_text(15000))
    assert 15000 <= d.word_count() < 16000
    texts = [p.text for p in d.passages()]
    assert len(set(texts)) / len(texts) > 0.95


def test_lookalike_text_has_refrains_a_mirrored_pair_and_the_verse(discourse):
    text = (ROOT / "media" / "mimaamakim-5725.txt").read_text(encoding="utf-8")
    cfg = simulate.SimConfig(seed=3, lookalikes=True)
    looks = simulate.parse_discourse(simulate.case_text(text, cfg))
    assert len(looks.paragraphs) == len(discourse.paragraphs)
    bodies = [" ".join(p.tokens) for p in looks.passages()]
    refrain = " ".join(simulate.REFRAIN.split())
    assert sum(b == refrain for b in bodies) == 4, "a refrain closes four paragraphs, as its own passage"
    blessing, curse = (" ".join(m.split()) for m in simulate.MIRROR)
    assert any(b.startswith(blessing) for b in bodies) and any(b.startswith(curse) for b in bodies)
    opening = [b for b in bodies if simulate.VERSE in b]
    assert len(opening) >= 4 + 2 + 1, "the verse is in the refrains, two added openings and the first passage"
    case = simulate.generate(looks, cfg)
    verse_quotes = [q for q in case.truth["quotes"] if q.get("verse")]
    assert len(verse_quotes) >= 5
    comments = [s for s in case.truth["segments"] if s["kind"] == "commentary"]
    for q in verse_quotes:
        assert any(s["start"] <= q["start"] and q["end"] <= s["end"] for s in comments)


def test_verse_quotes_and_dense_talk_only_when_asked(discourse):
    plain = simulate.generate(discourse, simulate.SimConfig(seed=5))
    assert not any(q.get("verse") for q in plain.truth["quotes"])
    quoting = simulate.generate(discourse, simulate.SimConfig(seed=5, verse_quote_prob=0.4))
    assert any(q.get("verse") for q in quoting.truth["quotes"])
    dense = simulate.generate(discourse, replace(simulate.SimConfig(seed=5), **simulate.DENSE))
    assert len(dense.truth["quotes"]) > len(plain.truth["quotes"])


def test_fragments_class_talks_in_fragments_of_the_explained_or_earlier_passages(discourse):
    case = simulate.generate(discourse, simulate.SimConfig(seed=2, **simulate.FRAGMENTS))
    frags = case.truth["fragments"]
    assert len(frags) > 50
    order = [p.id for p in discourse.passages()]
    for f in frags:
        assert 1 <= len(f["words"].split()) <= 4  # one or two tokens (an abbreviation says more)
        about = next(p.id for p in discourse.passages() if p.paragraph == f["about"])
        assert order.index(f["passage"]) <= order.index(about) + len(discourse.paragraph(f"p{f['about']}").passages)
    share = sum(f["foreign"] for f in frags) / len(frags)
    assert 0.1 < share < 0.5
    # A fragment is talk: the truth has it inside a commentary segment.
    comm = [s for s in case.truth["segments"] if s["kind"] == "commentary"]
    assert all(any(s["start"] <= f["start"] and f["end"] <= s["end"] for s in comm) for f in frags)


def test_phone_noise_hears_worse_and_writes_the_room_into_pauses(discourse):
    harsh = simulate.generate(discourse, simulate.SimConfig(seed=1)).truth["simulation"]["stats"]
    phone_case = simulate.generate(discourse, simulate.SimConfig(seed=1, noise="phone"))
    phone = phone_case.truth["simulation"]["stats"]
    assert phone["word_error_rate"] > harsh["word_error_rate"] + 0.05
    heard = {w.text for w in phone_case.transcript.words()}
    assert heard & set(simulate.ROOM_WORDS) - set(simulate.HEARD_WORDS)
