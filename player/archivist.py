"""Archivist blueprint (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("archivist", __name__)
