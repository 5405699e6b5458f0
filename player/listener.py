"""Listener pages: the library and the player."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("listener", __name__)
