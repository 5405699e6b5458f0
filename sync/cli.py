"""The ``shiur`` command line."""

from __future__ import annotations

import sys

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
