"""The ``shiur`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import ShiurError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shiur")
def cli() -> None:
    """Shiur Sync: follow a recorded Torah class along its text.

    \b
    Typical use:
      shiur sync class.mp3 maamar.txt -o out/   transcribe, align, write WebVTT
      shiur serve                               open the web player
    """



# --- transcribe / align / sync (pipeline) -------------------------------------------------

_MODEL_HELP = (
    "Whisper model: a local CTranslate2 folder, or a faster-whisper name / hub id such as "
    "ivrit-ai/whisper-large-v3-turbo-ct2 (needs a network the first time). "
    "Default: the bundled offline multilingual base."
)
_LANGUAGE_HELP = "Spoken language as an ISO code (he, en, yi, ...) or 'auto' to detect it."
_BIAS_HELP = (
    "Bias recognition toward the text's vocabulary: 'prompt' (the text's opening as Whisper's initial "
    "prompt), 'hotwords' (its frequent words), 'both', or 'none'."
)

_NO_CACHE_HELP = "Transcribe again even if a cached transcript exists (and refresh the cache)."


def _say(quiet: bool):
    def say(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    return say


class _Bar:
    """Progress callback drawing sync.progress.Progress, created on the first call."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, done: float, total: float) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from .progress import Progress

            # The first report is where this run starts: past 0 when resumed from a checkpoint.
            self.bar = Progress(total, start=done if done < total else 0.0)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_outputs(files, outdir) -> None:
    click.echo(f"wrote {len(files)} files to {outdir}:")
    for f in files:
        click.echo(f"  {f}")


@cli.command("transcribe")
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the transcript JSON. Default: <AUDIO name>.transcript.json here.")
@click.option("--model", default=None, help=_MODEL_HELP)
@click.option("--language", default="he", show_default=True, help=_LANGUAGE_HELP)
@click.option("--text", "text_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The discourse text, only to bias recognition with --bias.")
@click.option("--bias", type=click.Choice(["none", "prompt", "hotwords", "both"]), default=None, help=_BIAS_HELP)
@click.option("--no-cache", is_flag=True, help=_NO_CACHE_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; only errors.")
def transcribe_cmd(audio: Path, output: Path | None, model: str | None, language: str, text_path: Path | None,
                   bias: str | None, no_cache: bool, quiet: bool) -> None:
    """Transcribe AUDIO (mp3, m4a, ogg, opus, wav, flac, webm or a video) to a transcript JSON.

    The transcript is cached by the audio's content, the model and the options, so running
    again (or `shiur sync` on the same recording) reuses it.
    """
    from .discourse import load_discourse
    from .pipeline import DEFAULT_BIAS, options_for, transcribe_file

    discourse = load_discourse(text_path) if text_path else None
    options = options_for(language, bias or (DEFAULT_BIAS if discourse else "none"), discourse)
    bar = _Bar(quiet)
    tr = transcribe_file(audio, model, options, use_cache=not no_cache, on_progress=bar, say=_say(quiet))
    bar.close()
    out = output or Path(f"{audio.stem}.transcript.json")
    tr.transcript.save(out)
    words = len(tr.transcript.words())
    how = "from cache" if tr.cached else f"in {tr.seconds:.0f} s"
    click.echo(f"wrote {out} ({len(tr.transcript.segments)} segments, {words} words, {how})")


@cli.command("align")
@click.argument("transcript", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for passages.vtt, paragraphs.vtt, alignment.json, transcript.json.")
@click.option("--audio", "audio_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The recording, to refine word times (optional; never re-transcribes).")
@click.option("--model", default=None, help="Model used for refinement with --audio. " + _MODEL_HELP)
@click.option("--pin", "pin_specs", multiple=True, metavar="PASSAGE=SECONDS",
              help="A correction, as on the review page: p2.1=75.5 (starts at 1:15.5; 1:15.5 works too) or "
                   "p3.1=none (not read). Repeatable.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def align_cmd(transcript: Path, text: Path, outdir: Path, audio_path: Path | None, model: str | None,
              pin_specs: tuple[str, ...], quiet: bool) -> None:
    """Align an existing TRANSCRIPT (from `shiur transcribe`) to the discourse TEXT. Never transcribes."""
    from .pins import parse_pin
    from .pipeline import align_files

    try:
        pins = tuple(parse_pin(spec) for spec in pin_specs)
    except ValueError as e:
        raise ShiurError(f"--pin: {e}") from None
    res = align_files(transcript, text, outdir, audio_path=audio_path, model=model, pins=pins, say=_say(quiet))
    a = res.result.alignment
    click.echo(f"aligned {len(a.read_cues())} passage readings, {len(a.skipped)} passages not found, "
               f"in {res.timings['align']:.1f} s")
    _print_outputs(res.files, outdir)


@cli.command("sync")
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for passages.vtt, paragraphs.vtt, alignment.json, transcript.json.")
@click.option("--model", default=None, help=_MODEL_HELP)
@click.option("--language", default="he", show_default=True, help=_LANGUAGE_HELP)
@click.option("--bias", type=click.Choice(["none", "prompt", "hotwords", "both"]), default=None,
              help=_BIAS_HELP + " Default: none (what measured best on the corpus).")
@click.option("--no-cache", is_flag=True, help=_NO_CACHE_HELP)
@click.option("--no-refine", is_flag=True, help="Skip the audio refinement pass of the aligner (faster, coarser).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages; only errors and the result.")
def sync_cmd(audio: Path, text: Path, outdir: Path, model: str | None, language: str, bias: str | None,
             no_cache: bool, no_refine: bool, quiet: bool) -> None:
    """Transcribe AUDIO, align it to the discourse TEXT and write WebVTT cues into OUTDIR.

    \b
    AUDIO  the class recording (mp3, m4a, ogg, opus, wav, flac, webm, or a video)
    TEXT   the discourse as plain UTF-8 text, paragraphs separated by blank lines

    \b
    Example:
      shiur sync class.mp3 maamar.txt -o out/
      shiur sync lesson.m4a lesson.txt -o out/ --language en

    \b
    Writes:
      passages.vtt    one cue per passage (ids p<N>.<M>), the passage text as written
      paragraphs.vtt  one cue per paragraph (ids p<N>), usable as chapters
      alignment.json  everything: passages, times, confidence, words, model, options
      transcript.json what Whisper heard, with word times
    """
    from .pipeline import DEFAULT_BIAS, sync_recording

    bar = _Bar(quiet)
    res = sync_recording(audio, text, outdir, model=model, language=language, use_cache=not no_cache,
                         bias=bias or DEFAULT_BIAS, refine=not no_refine, on_progress=bar, say=_say(quiet))
    bar.close()
    a = res.result.alignment
    if res.cached:
        click.echo("transcript: cache used (no new transcription)")
    click.echo(f"aligned {len(a.read_cues())} passage readings, {len(a.skipped)} passages not found")
    _print_outputs(res.files, outdir)


# ---- `shiur text` (H2, sync/textinfo.py) ----
from .textinfo import text_command  # noqa: E402

cli.add_command(text_command)

# ---- `shiur batch`, `shiur import-cues` (H5, sync/batch.py, sync/importers.py) ----
from .batch import batch_command  # noqa: E402
from .importers import import_command  # noqa: E402

cli.add_command(batch_command)
cli.add_command(import_command)


def _register_web_commands() -> None:
    # The web commands live with the Flask app; the core stays importable without Flask.
    try:
        from player.cli import register
    except ModuleNotFoundError as e:
        if e.name not in ("flask", "player", "player.cli"):
            raise
        return
    register(cli)


def main() -> None:
    _register_web_commands()
    try:
        cli(standalone_mode=False)
    except ShiurError as e:
        click.echo(f"shiur: error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
