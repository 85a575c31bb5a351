"""Artifact versions side by side under one root, selected by the `current` pointer (a symlink).

    $CARE_HOME/artifacts/20250101T120000Z/   one folder per `care train`
    $CARE_HOME/artifacts/20250102T090000Z/
    $CARE_HOME/artifacts/current  -> 20250102T090000Z   what every process loads
    $CARE_HOME/artifacts/previous -> 20250101T120000Z   what `care models rollback` returns to

Links are relative (the root can be mounted anywhere) and replaced atomically (a new link renamed over
the old one), so a reader sees the old target or the new one, never none. A `current` that is a real
folder (the layout before versions) is moved to a version folder of its own the first time another
version is activated.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cascade import paths

POINTER = "current"
PREVIOUS = "previous"
MANIFEST = "manifest.json"
_RESERVED = (POINTER, PREVIOUS)


class VersionError(Exception):
    """An unknown version, or nothing to roll back to."""


@dataclass(frozen=True)
class Version:
    """One artifacts folder under the root."""

    name: str
    path: Path
    model_version: str
    ranker_version: str
    model_hash: str

    @classmethod
    def read(cls, path: Path) -> Version:
        m = read_manifest(path)
        ranker = m.get("ranker", {})
        return cls(
            path.name,
            path,
            str(m.get("version", "unknown")),
            str(ranker.get("version", "unknown")) if isinstance(ranker, dict) else "unknown",
            str(m.get("model_hash", "")),
        )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest.json; FileNotFoundError if it has none (not trained, or still training)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no trained artifacts ({MANIFEST} missing)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def default_pointer() -> Path:
    """$CARE_ARTIFACTS, default $CARE_HOME/artifacts/current: the pointer every process follows."""
    return paths.artifacts_dir()


def versions(pointer: Path) -> list[Version]:
    """Every trained folder beside the pointer, oldest name first."""
    root = pointer.parent
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if d.name in _RESERVED or d.is_symlink() or d.name.startswith(".") or d.name.endswith(".partial"):
            continue
        if (d / MANIFEST).is_file():
            out.append(Version.read(d))
    return out


def target(link: Path) -> str | None:
    """The version a pointer names: its link target's name; None if absent or a real folder."""
    return os.readlink(link).rstrip("/").rsplit("/", 1)[-1] if link.is_symlink() else None


def _relink(link: Path, name: str) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(name, target_is_directory=True)
    os.replace(tmp, link)


def unique_name(root: Path, wanted: str) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`... whichever is free under `root`."""
    name, n = wanted, 1
    while (root / name).exists() or (root / name).is_symlink():
        n += 1
        name = f"{wanted}-{n}"
    return name


def _migrate(pointer: Path) -> None:
    """A real `current` folder becomes a version folder of its own, with `current` linking to it."""
    if pointer.is_symlink() or not pointer.is_dir():
        return
    version = str(read_manifest(pointer).get("version", "initial"))
    name = unique_name(pointer.parent, version)
    os.rename(pointer, pointer.parent / name)
    _relink(pointer, name)


def activate(name: str, pointer: Path | None = None) -> tuple[str | None, str]:
    """Point `current` at version `name` (and `previous` at what it named); returns (old, new)."""
    pointer = pointer or default_pointer()
    folder = pointer.parent / name
    if name in _RESERVED or not (folder / MANIFEST).is_file():
        known = ", ".join(v.name for v in versions(pointer)) or "none"
        raise VersionError(f"no trained version {name!r} under {pointer.parent} (known: {known})")
    _migrate(pointer)
    old = target(pointer)
    if old is not None and old != name:
        _relink(pointer.parent / PREVIOUS, old)
    _relink(pointer, name)
    return old, name


def rollback(pointer: Path | None = None) -> tuple[str | None, str]:
    """Point `current` back at `previous` (which then names the version rolled back from)."""
    pointer = pointer or default_pointer()
    prev = target(pointer.parent / PREVIOUS)
    if prev is None:
        raise VersionError(f"nothing to roll back to: {pointer.parent / PREVIOUS} does not exist")
    return activate(prev, pointer)


def training_folder(target: Path) -> Path:
    """Where `care train` writes for `target`: a hidden staging folder beside the versions when `target`
    is the `current` pointer (or any link), else `target` itself (replaced when training ends)."""
    if target.absolute() == default_pointer().absolute() or target.is_symlink():
        return target.parent / f".training-{os.getpid()}"
    return target


def finish_training(folder: Path, target: Path) -> tuple[Path, str | None]:
    """After `care train` wrote `folder`: a staging folder moves beside the other versions, named by its
    manifest's version, and becomes current only if nothing is. Returns (where it is, what to say)."""
    if folder == target:
        return target, None
    name = unique_name(target.parent, str(read_manifest(folder).get("version", "trained")))
    os.rename(folder, target.parent / name)
    if target.exists():
        return target.parent / name, f"new version {name}; serve it with `care models activate {name}`"
    activate(name, target)
    return target.parent / name, f"{target} -> {name}"
