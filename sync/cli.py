"""The ``shiur`` command line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import ShiurError

COMMANDS: dict[str, str] = {
    # The core: no Flask needed.
    "sync": "sync.cli:sync_cmd",
    "transcribe": "sync.cli:transcribe_cmd",
    "align": "sync.cli:align_cmd",
    "text": "sync.textinfo:text_command",
    "batch": "sync.batch:batch_command",
    "import-cues": "sync.importers:import_command",
    # The web library (player/, needs Flask).
    "serve": "player.cli:serve",
    "worker": "player.jobs:worker_command",
    "user": "player.auth:user_group",
    "add": "player.library:add_command",
    "import": "player.library:import_command",
    "import-batch": "player.archivist:import_batch_cmd",
    "export": "player.archivist:export_cmd",
    "catalogue": "player.archivist:catalogue_cmd",
    "attach": "player.archivist:attach_cmd",
    "owner": "player.ownership:owner_cmd",
}
"""Every ``shiur`` command: name -> ``module:attribute`` of its click command. The one place
commands are registered; each module defines its commands' bodies and nothing registers itself."""

_WEB_MODULES = ("flask", "werkzeug", "player")


def _load(name: str) -> click.Command | None:
    module, _, attr = COMMANDS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as e:
        # A core-only install (no Flask) still runs the core commands.
        if (e.name or "").split(".")[0] in _WEB_MODULES and module.startswith("player."):
            return None
        raise


class CommandError(click.ClickException):
    """A :class:`ShiurError` on its way out: one line, ``shiur: error: ...``, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"shiur: error: {self.format_message()}", err=True)


class _Commands(click.Group):
    """Loads a command's module when the command is used (or listed by --help)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShiurError as e:
            err = CommandError(str(e))
            # Some failures have a status of their own (NoMatch: 3), so scripts can tell them apart.
            err.exit_code = getattr(e, "exit_code", CommandError.exit_code)
            raise err from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _load(n) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load(cmd_name) if cmd_name in COMMANDS else None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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


@click.command("transcribe")
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


@click.command("align")
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


@click.command("sync")
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

    The four files are replaced together (a crash or a second sync into the same folder never
    leaves files of two runs side by side). When not one passage of the text is found in the
    recording, nothing is written and the exit status is 3.
    """
    from . import writers
    from .pipeline import DEFAULT_BIAS, sync_recording

    _prepare_outdir(outdir)
    bar = _Bar(quiet)
    # Written below, once the result is known to be worth keeping over what is there.
    res = sync_recording(audio, text, outdir, model=model, language=language, use_cache=not no_cache,
                         bias=bias or DEFAULT_BIAS, refine=not no_refine, on_progress=bar, say=_say(quiet),
                         outputs=())
    bar.close()
    a = res.result.alignment
    warning = _truncation(audio, res.result)
    if warning:
        click.echo(f"shiur: warning: {warning}", err=True)
    if res.cached:
        click.echo("transcript: cache used (no new transcription)")
    if not a.read_cues():
        raise NoMatch(f"{text.name} does not match {audio.name}: not one passage of the text was found in the "
                      f"recording (the wrong text, or the wrong recording?); nothing was written to {outdir}")
    files = writers.write_outputs(res.result, outdir)
    click.echo(f"aligned {len(a.read_cues())} passage readings, {len(a.skipped)} passages not found")
    _print_outputs(files, outdir)


class NoMatch(ShiurError):
    """The text and the recording have nothing in common."""

    exit_code = 3


def _prepare_outdir(outdir: Path) -> None:
    """Finish a save a crash cut off, and drop temp files of an interrupted run."""
    from . import atomic, writers

    if outdir.is_dir():
        with writers.folder_lock(outdir):
            writers.recover(outdir, locked=True)
            atomic.clean_stale_temps(outdir)


def _truncation(audio: Path, result) -> str | None:
    from .audio import check_truncated

    transcript = result.transcript
    if transcript is None or not transcript.duration:
        return None
    return check_truncated(audio, transcript.duration)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
