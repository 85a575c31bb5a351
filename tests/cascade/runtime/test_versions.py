"""Artifact versions and the `current` pointer: activation, migration, rollback, where training writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cascade.runtime.versions import (
    PREVIOUS,
    VersionError,
    activate,
    finish_training,
    rollback,
    target,
    training_folder,
    versions,
)


def trained(folder: Path, version: str) -> Path:
    """A folder that looks trained: a manifest with a version and a ranker version."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps({"version": version, "ranker": {"version": f"r-{version}"}})
    )
    return folder


def test_a_real_current_folder_becomes_a_version_and_current_a_relative_link(tmp_path: Path) -> None:
    pointer = trained(tmp_path / "current", "v1").parent / "current"
    trained(tmp_path / "v2", "v2")
    assert activate("v2", pointer) == ("v1", "v2")
    assert os.readlink(pointer) == "v2"  # relative: the root can be mounted elsewhere
    assert target(tmp_path / PREVIOUS) == "v1"
    assert json.loads((tmp_path / "v1" / "manifest.json").read_text())["version"] == "v1"  # moved, kept
    assert [v.name for v in versions(pointer)] == ["v1", "v2"]
    assert [v.ranker_version for v in versions(pointer)] == ["r-v1", "r-v2"]


def test_rollback_returns_to_the_previous_version_and_back_again(tmp_path: Path) -> None:
    for v in ("a", "b"):
        trained(tmp_path / v, v)
    pointer = tmp_path / "current"
    activate("a", pointer)
    with pytest.raises(VersionError, match="nothing to roll back"):
        rollback(pointer)
    activate("b", pointer)
    assert rollback(pointer) == ("b", "a")
    assert (target(pointer), target(tmp_path / PREVIOUS)) == ("a", "b")
    assert rollback(pointer) == ("a", "b")  # a rollback can itself be rolled back
    assert (pointer / "manifest.json").is_file()


def test_an_unknown_or_untrained_version_is_refused_and_the_pointer_kept(tmp_path: Path) -> None:
    trained(tmp_path / "a", "a")
    (tmp_path / "half").mkdir()  # no manifest: still training, or broken
    pointer = tmp_path / "current"
    activate("a", pointer)
    for name in ("nope", "half", "previous"):
        with pytest.raises(VersionError, match="known: a"):
            activate(name, pointer)
    assert target(pointer) == "a"


def test_training_into_the_pointer_adds_a_version_and_activates_only_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = tmp_path / "artifacts" / "current"
    pointer.parent.mkdir()
    monkeypatch.setenv("CARE_ARTIFACTS", str(pointer))  # `care train` without --out writes here
    for n, version in enumerate(("20250101T000000Z", "20250101T000000Z")):
        folder = training_folder(pointer)
        assert folder.parent == pointer.parent and folder.name.startswith(".")  # hidden while training
        trained(folder, version)
        where, note = finish_training(folder, pointer)
        assert note is not None
        if n == 0:
            assert where.name == version and target(pointer) == version and "->" in note
        else:  # the same version string again: a name of its own, and current unchanged
            assert where.name == f"{version}-2" and target(pointer) == version
            assert f"care models activate {version}-2" in note
    assert [v.name for v in versions(pointer)] == ["20250101T000000Z", "20250101T000000Z-2"]


def test_an_explicit_folder_is_trained_in_place(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert training_folder(out) == out
    assert finish_training(out, out) == (out, None)
