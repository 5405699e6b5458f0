"""Web-side ``shiur`` commands. Each audience module may define ``register_commands(cli)``."""

from __future__ import annotations

import importlib

import click

_MODULES = ("listener", "lecturer", "archivist", "auth", "jobs", "library")


def register(cli: click.Group) -> None:
    for name in _MODULES:
        try:
            module = importlib.import_module(f"player.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"player.{name}":
                raise
            continue
        hook = getattr(module, "register_commands", None)
        if hook is not None:
            hook(cli)
