"""Shiur Sync core: audio + discourse text -> aligned cues. Importable without Flask."""

__version__ = "0.1.0"
