"""Every tuning constant of the aligner, in one frozen, documented place.

``AlignParams()`` is what the aligner uses; a bench can sweep a field with
``dataclasses.replace(AlignParams(), field=value)`` (``bench/generalize.py --set field=value``)
and pass it to :func:`sync.align.align` as ``params``.

Each field says why it exists and what it was measured on. "The corpus" is
``../shared/corpus`` (Whisper ``base`` transcripts, 2-CPU machine); the cases the values were
*chosen* in issue 10 are gen1-shiur, gen-class-quotes, gen1-reading-p and the simulated plain
and look-alike classes with seed 1; gen1-reading, gen2-reading, the other simulated seeds and
the dense-vocabulary simulations were held out (``bench/generalize.py`` marks the rows). Values
that came with the first versions of the aligner (issues 2-6) were chosen on gen1-reading,
gen1-shiur, gen2-reading and the simulated class of the sample discourse; they are kept as
they were (not swept again), so those cases are not truly held out for them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlignParams:
    # ---- Anchors (sync/coarse.py) ------------------------------------------------------------
    max_seed_freq: int = 40
    """A word found at more text tokens than this is too common to seed a chain (particles,
    "אלהים" in Genesis 1 has 32 and still seeds)."""
    idf_scale: float = 2.5
    """Anchor weight = min(1, idf_scale / log2(1 + tokens with the word)): a word that occurs
    once weighs 1, a common one less. Chosen with the seed-and-chain pass on the corpus."""
    skeleton_sim: float = 0.85
    """Weight/similarity of an anchor matched only by its spelling skeleton (full vs defective
    spelling, which Whisper mixes freely), against 1.0 for an exact match."""
    short_word_len: int = 2
    """Words of at most this many letters ("את", "כי") match by chance..."""
    short_word_weight: float = 0.35
    """...so their anchors extend a chain but weigh this fraction of a full anchor."""
    fuzzy_anchor_sim: float = 0.7
    """A heard word that matches no text word exactly or by skeleton anchors to its closest
    look-alike when their similarity is at least this (1.0 = off). Whisper base garbles most
    words of a verse; with exact anchors only, a swapped short verse of gen-class-quotes had
    one anchor and was called skipped. 0.65-0.7 measured alike; 0.75 loses that verse..."""
    fuzzy_min_len: int = 4
    """...if both have at least this many letters (short words resemble everything)..."""
    fuzzy_max_len_ratio: float = 1.75
    """...and neither is more than this many times as long as the other (Whisper's "שהואבכולם"
    for "שהוא בכולם" resembled "בכולם" at 0.71: anchored to it, the word before was matched
    to talk; simulated dense s2: 9 letters for 5. 1.5 and 1.6 cost gen-class-quotes 0.001 of
    read time; a garble such as "לרקייה" for "לרקיע" is 1.2)..."""
    fuzzy_margin: float = 0.08
    """...and to every other text word within this similarity of the best one (the chain
    decides between them)..."""
    fuzzy_weight: float = 0.6
    """...weighing this fraction of an exact anchor."""

    # ---- Chains ------------------------------------------------------------------------------
    chain_lookback: int = 8
    """How many transcript words (and text tokens) back an anchor looks for its predecessor:
    bridges a few misheard words while keeping chaining linear."""
    chain_max_skew: int = 3
    """Largest difference between the word gap and the token gap of two linked anchors."""
    chain_skew_cost: float = 0.25
    """Score lost per unit of skew between linked anchors."""
    chain_gap_cost: float = 0.08
    """Score lost per word (or token) skipped between linked anchors."""
    min_chain_score: float = 1.5
    """A chain weaker than this (about two full anchors) is noise."""
    max_link_seconds: float = 6.0
    """Two anchors further apart in time are not one reading: a pause that long is talk or a
    stretch the recogniser dropped."""

    # ---- Selecting chains ----------------------------------------------------------------------
    jump_min_score: float = 3.0
    """Chain score needed to be landed on by a jump (or to open the class)."""
    jump_min_tokens: int = 6
    """A jump lands only on a piece that reads this many tokens of its passage..."""
    jump_min_share: float = 0.45
    """...or this share of a shorter passage: a phrase quoted in an explanation never moves
    the highlight."""
    jump_min_density: float = 0.4
    """...and whose matched tokens are at least this share of the text span it covers."""
    continue_slack: int = 4
    """Tokens of slack either way for a piece to count as going on where the last one stopped."""
    continuation_must_advance: bool = True
    """A continuation ends later in the text than the piece it continues: the maamar's verse
    quoted six times in one explanation was taken as six free steps of one reading and
    outscored the real reading (look-alike simulations)."""
    max_gap_tokens: int = 40
    """Largest stretch of text that garbled words in between may have read (a continuation), and
    largest region the word DP aligns."""
    gap_words_factor: float = 2.0
    """Words and tokens of a garbled stretch must agree within this factor..."""
    gap_words_slack: int = 6
    """...plus this many: more words than that is talk between two readings."""
    forward_jump_cost: float = 0.5
    """Cost of a jump ahead in the text (a skip), whatever its length."""
    backward_jump_cost: float = 1.0
    """Cost of a jump back (a re-read), whatever its length."""
    jump_cost_per_passage: float = 0.1
    """Extra cost of a jump per passage of distance (capped by ``jump_distance_cap``): lecturers
    move mostly forward and a little back, so a far look-alike needs clearly better evidence
    than the passage that comes next. Measured on gen-class-quotes and the look-alike
    simulations."""
    jump_free_passages: int = 3
    """Jumps of up to this many passages pay no distance cost (a verse read out of order, a
    short skip): with 0, remix-gen1-long's swapped formula verse 23 was called skipped; 2 cost
    the look-alike simulation seed 2 a passage start; 3 and 5 measured alike."""
    jump_distance_cap: int = 40
    """Passages of distance beyond which a jump costs no more."""
    ambiguous_anchors: int = 4
    """A piece with at most this many anchors may be swapped for the same words' reading of
    the passage that comes next (formulas that differ by a word)."""
    rival_share: float = 0.8
    """...when that reading scores at least this share of the picked one."""
    drop_leapt_quotes: bool = True
    """A piece taken as going on past talk, with the reading then going back into the text it
    passed over, was a quote (the maamar's verse opening a later passage) unless it has a
    jump's evidence. Measured on the simulated classes and tests/test_align_generalize.py."""
    dangling_share: float = 0.3
    """A reading that ends on the opening words of a passage never read on, covering less than
    this share of it, was the next passage's look-alike words in the talk that followed."""
    pin_weight: float = 50.0
    """Weight of a lecturer's pin as an anchor: it always wins."""

    # ---- Reading evidence (sync/evidence.py) ---------------------------------------------------
    reading_span_share: float = 0.8
    """A reading on its own (the class's first, a skip, a re-read) spans at least this share of
    its passage, from the first matched token to the last..."""
    reading_coverage: float = 0.6
    """...matches at least this share of its tokens..."""
    reading_purity: float = 0.7
    """...at least this share of the heard words among its matches are matched: a quote or
    fragments of the passage between the lecturer's own words are not a reading..."""
    reading_quality: float = 0.8
    """...and its matches are this similar to the text on average."""
    jump_by_anchors: bool = True
    """A piece with a jump's exact anchors (``jump_min_*``) counts as a reading on its own too."""
    resume_span_share: float = 0.7
    """Going on in the text after talk asks less of a piece (the next passage is what a
    lecturer reads next): this span..."""
    resume_coverage: float = 0.5
    """...this coverage..."""
    resume_purity: float = 0.6
    """...this purity..."""
    resume_quality: float = 0.75
    """...and this quality."""
    evidence_words_per_token: int = 2
    """How far around a candidate the rest of its passage is looked for: this many words per
    token not yet matched..."""
    evidence_sec_per_char: float = 0.15
    """...and no further than these tokens take at twice the usual reading time (Genesis
    verses: 0.07-0.08 s a letter)..."""
    evidence_slack_seconds: float = 1.5
    """...plus this (a pause)."""

    straight_extra_words: int = 3
    """Going on in the text is going straight on (no talk between) when the words heard in
    between are at most the tokens in between plus this. After talk, going on in the text is a
    new reading, and needs a reading's evidence (``resume_*``)."""
    reread_span_share: float = 0.9
    """A passage read again (a jump back in the text) spans this share of it: a quote in the talk
    is 2-5 words, often most of a short verse but never all of it (gen-class-quotes: verse 3,
    six words, quoted five of them right after its reading, was taken as read there)..."""
    quote_max_tokens: int = 5
    """...when no more of it is matched than a quote holds: a longer passage read again with
    words lost at its edges is still a re-read (simulated classes s2, s4: a span rule alone
    lost 0.016 overall)."""
    continue_min_score: float = 0.5
    """A piece without that evidence goes straight on only if it scores at least this: one
    short word ("שם", 0.3) that the talk after a reading shares with the next passage does not
    continue it (gen2-dense verse 12); one rare word does (gen1-reading-p verse 13, 0.85)."""
    # ---- Word DP (sync/fine.py) ----------------------------------------------------------------
    max_cells: int = 60_000
    """Largest word DP (words x tokens); bigger regions are left to the coarse pass."""
    min_sim: float = 0.45
    """Least similarity for a heard word to match a text word."""
    good_sim: float = 0.6
    """Similarity that counts as evidence of reading in :func:`sync.fine.passage_evidence`."""
    merge_min_sim: float = 0.7
    """Least similarity for one heard word to match two written words run together."""
    merge_len_ratio: float = 0.7
    """Lengths of a heard word and the run-together written words must agree within this."""
    skeleton_equal_sim: float = 0.9
    """Similarity of two words with the same spelling skeleton."""
    skeleton_sim_factor: float = 0.95
    """Skeleton similarity counts this much against plain similarity."""
    skip_word: float = -0.25
    """DP score of a heard word matched to nothing."""
    skip_token: float = -0.35
    """DP score of a text token matched by no word."""
    match_bias: float = 0.5
    """Similarity at which a match is neutral before ``match_bonus``."""
    match_bonus: float = 0.3
    """Score added per matched token: a weak match beats skipping a word and a token."""
    lookahead: int = 3
    """Words a token looks ahead for its look-alike in :func:`sync.fine.passage_evidence`."""
    evidence_margin: int = 4
    """Words either side of a piece that :func:`sync.fine.passage_evidence` looks at."""

    # ---- Readings (sync/align.py) --------------------------------------------------------------
    default_sec_per_char: float = 0.075
    """Reading speed when too little was matched to measure it (Genesis verses: 0.07-0.08)."""
    rate_min_chars: int = 20
    """Letters of consecutive matches needed to measure the reading speed."""
    rate_max_step: float = 3.0
    """Consecutive matches further apart than this (s) do not measure the speed."""
    weak_min_coverage: float = 0.5
    """A passage matched by the DP alone (no anchor) needs this share of its tokens..."""
    weak_min_quality: float = 0.65
    """...at this mean similarity, or it was commentary that resembled the text."""
    break_extra_words: int = 6
    """Unmatched words inside a reading, beyond what the skipped text explains, that break it."""
    break_extra_seconds: float = 5.0
    """Unexplained time inside a reading that breaks it."""
    break_max_tokens: int = 60
    """A step ahead of more tokens than this inside a reading breaks it (a skip)."""
    extend_words_per_token: int = 3
    """Extending a reading to its passage's edges looks this many words per missing token..."""
    extend_slack_words: int = 2
    """...plus this many."""
    backoff_max_seconds: float = 30.0
    """An unrecognised passage opening is backed off at most this far when nothing bounds it."""

    # ---- Filling passages the recogniser lost ---------------------------------------------------
    fill_min_ratio: float = 0.5
    """A gap between two found passages holds the ones between when it lasts at least this
    share of their reading time..."""
    fill_max_ratio: float = 2.5
    """...and at most this multiple..."""
    fill_slack_seconds: float = 3.0
    """...plus this many seconds (pauses)."""
    fill_max_heard_share: float = 0.3
    """Between two readings, unmatched words heard in the gap (per missing token) beyond this
    share mean talk: the passages were skipped."""
    fill_forced_likelihood: float = 0.25
    """...unless, forced through the gap's audio by the Whisper model, the passages' text fits
    it this well (mean token probability): the gaps that held a reading the recogniser garbled
    (gen1-phone verse 10, transliterated into Latin letters; gen-class-quotes verse 43) score
    0.37-0.42, gaps of talk only 0.03-0.17 (14 of them, gen1-phone, gen-class-quotes, gen2-
    dense, gen1-shiur, explanations with quotes and fragments of the very passage included)."""
    fill_forced_max_seconds: float = 27.0
    """Gaps forced at most this long (with the margins, inside Whisper's 30-s window)."""
    fill_forced_margin: float = 1.0
    """Seconds of audio forced on either side of the gap."""
    fill_spreads_unheard_opening: bool = True
    """Passages filled before a passage whose opening words were not heard either share the
    unheard time with that opening by letters, instead of the opening being backed off by
    the class's mean rate (simulated s1: 13 unheard tokens, 0.5 s off by the mean rate)."""
    fill_margin: float = 0.05
    """Filled passages keep this far from their neighbours."""

    # ---- Onsets (sync/onsets.py, used by sync/align.py) -----------------------------------------
    threshold_share: float = 0.45
    """Speech threshold, in dB, this share of the way from the recording's own noise floor to
    its speech level. (Until issue 18 it was also capped at -35 dBFS; a phone recording whose
    pauses hold room noise at -40 dBFS then had its threshold 7 dB above the noise, and babble
    made onsets everywhere: gen1-phone starts within 0.5 s 0.81 with the cap, 0.94 without;
    the clean cases, whose thresholds lie below -39 dBFS, are the same either way.)"""
    min_dynamic_db: float = 12.0
    """Below this floor-to-level range there is no silence to find."""
    floor_percentile: float = 10.0
    """Percentile of frame levels taken as the noise floor..."""
    level_percentile: float = 90.0
    """...and as the speech level."""
    min_burst_frames: int = 3
    """Speech bursts shorter than this many 10 ms frames are clicks or breaths."""
    min_silence: float = 0.15
    """Silence (s) before an onset (or after an offset) for it to count."""
    pause_cap: float = 1.0
    """A pause longer than this (s) is no better an opening than this one."""
    onset_distance_cost: float = 0.6
    """Per second away from the expected start, an onset loses this much of its pause score."""
    snap_window: float = 0.6
    """How far after the expected start (and after a read cue's end) an onset is searched."""
    snap_start_before: float = 1.2
    """How far before the first word's start the opening onset is searched."""
    after_margin: float = 0.15
    """An opening onset lies no earlier than this before the end of the last word heard before."""
    filled_window: float = 3.0
    """A filled (never recognised) passage looks this far either way for its opening pause..."""
    filled_pause_weight: float = 3.0
    """...weighting the pause this much against the distance."""
    prev_end_margin: float = 0.1
    """The onset after the previous passage's last word is searched from this before its end..."""
    first_word_margin: float = 0.05
    """...to this before the end of this passage's first word."""
    slow_pause: float = 0.5
    """A reading is word by word when onsets after pauses of at least this (s)..."""
    slow_onsets_per_token: float = 0.6
    """...number at least this many per token read (gen1-reading-p: about 1; the normal-pace
    corpus readings: about 0.1-0.3)."""
    slow_start_offset: float = 0.45
    """In a word-by-word reading a passage opens at the onset nearest to its first word's
    start plus this (s): Whisper's word starts there lie 0.2-0.8 s before the voice
    (gen1-reading-p)..."""
    slow_snap_reach: float = 0.9
    """...searched this far either way."""
    forced_doubt_sim: float = 0.8
    """In a word-by-word reading, a passage whose first word was not matched, or matched with
    less similarity than this, has a doubtful boundary (gen1-reading-p: a verse's first word
    heard as the previous verse's last): it is placed by forcing the text through the Whisper
    model (:mod:`sync.forced`), when the caller gives one. A plene spelling of the word matches
    at 0.85, so most boundaries are not forced (gen1-reading-p: 12 of 30; each forcing is one
    encoder pass over the window, about 0.25 s). 0 = never force."""
    forced_window: float = 4.0
    """The forced window starts this long (s) before the onset-snapped estimate..."""
    forced_window_after: float = 7.0
    """...and ends this long after it, so that an estimate a word or two early (gen1-reading-p
    verse 8: 2.6 s) still holds the passage's first words (4 s measured the same there; 2 s
    before instead of 4 lost two starts, 3 context words instead of 2 lost one)."""
    forced_context_words: int = 2
    """...and holds the previous passage's last and this passage's first this many words."""
    opening_lookback: float = 4.0
    """A reading's first word heard at most this long after the last word before it (talk)
    opens at the longest pause in between: Whisper put gen-class-quotes' verse 35 2.5 s late
    after losing its first words. 0 = off."""
    continuing_min_pause: float = 0.25
    """Least pause before the onset that opens a passage in a continuous reading."""
    stretched_word_pause: float = 0.8
    """A pause this long inside the previous passage's last word (by its times) ends that
    passage there: the corpus readers pause 0.4-1.2 s between verses and far less inside one
    (gen1-reading verse 16: a 0.93-s pause inside the word matched to verse 15's end)."""
    first_word_rate_factor: float = 1.5
    """Whisper stretches a segment's first word back over the pause: its start is trusted only
    this many reading times (letters x speed) before its end."""
    ref_min_window: float = 0.1
    """The opening onset is searched at least this far after the reference point."""
    passage_min_gap: float = 0.2
    """Two passages of one reading start at least this far apart."""

    # ---- Cues (sync/align.py) -----------------------------------------------------------------
    explain_min_gap: float = 2.0
    """A pause longer than this between a reading and the next thing said makes the rest
    explanation."""
    off_text_min_lead: float = 1.0
    """Time before the first reading longer than this is off-text."""
    min_read_cue: float = 0.2
    """Shortest read cue."""
    end_snap_before: float = 0.3
    """A read cue's end snaps to a speech offset at most this much earlier."""
    explained_confidence: float = 0.8
    """An explanation cue's confidence, as a share of its reading's."""
    digression_min_seconds: float = 15.0
    """Talk shorter than this is never called a digression."""
    digression_min_words: int = 12
    """Talk with fewer content words than this is never called a digression."""
    digression_max_share: float = 0.2
    """Talk sharing less than this share of its longer words with the text is a digression
    (explaining reuses a third to two thirds; an unrelated story a few percent)."""
    digression_min_letters: int = 3
    """Content words: at least this many letters."""
    filled_confidence: float = 0.25
    """Confidence of a passage placed by filling (never recognised)."""
    confidence_base: float = 0.15
    """Confidence = base + coverage weight x tokens matched + quality weight x mean similarity."""
    confidence_coverage: float = 0.55
    confidence_quality: float = 0.3

    # ---- Pins ---------------------------------------------------------------------------------
    pin_word_before: float = 0.25
    """The word a pin anchors may start this much before the pinned time..."""
    pin_word_after: float = 5.0
    """...and at most this much after it. (How a pin moves its cue is ``sync/pins.py``'s rule,
    shared with the review page.)"""


DEFAULT = AlignParams()
