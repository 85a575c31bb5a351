"""Building a loaded version: batch features are written only when the store does not hold them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from cascade.features.online import MemoryStoreConfig, create_store
from cascade.ranking.head import N_SCORE
from cascade.runtime import load_runtime
from service.loaded import ArtifactsKey, build, holds_batch_features
from tests.service.conftest import settings_for


def test_batch_features_are_found_only_when_they_are_exactly_this_datas(artifacts: Path) -> None:
    runtime = load_runtime(artifacts)
    online = create_store(MemoryStoreConfig())
    assert not holds_batch_features(runtime, online, "end")  # an empty store
    runtime.feature_store(online, True)
    assert holds_batch_features(runtime, online, "end")
    assert not holds_batch_features(runtime, online, "test")  # replays always write their own cut
    users = runtime.dataset.users.user_ids
    last = int(users[-1])
    row = runtime.batch.users_block(users[-1:], np.full(1, runtime.as_of_end))
    online.write_users([last], row + 1.0, [runtime.batch.history(last, runtime.as_of_end)])
    assert not holds_batch_features(runtime, online, "end")  # one probed value differs


def test_the_key_names_the_folder_the_pointer_resolves_to(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "current").symlink_to("v1")
    assert ArtifactsKey.of(tmp_path / "current") is None  # nothing trained there yet
    (tmp_path / "v1" / "manifest.json").write_text("{}")
    key = ArtifactsKey.of(tmp_path / "current")
    assert key is not None and key.folder == str((tmp_path / "v1").resolve())
    manifest = tmp_path / "v1" / "manifest.json"
    manifest.unlink()
    manifest.write_text("{}")  # retrained in place: another manifest, written minutes later
    os.utime(manifest, ns=(key.manifest[1] + 60 * 10**9, key.manifest[1] + 60 * 10**9))
    assert ArtifactsKey.of(tmp_path / "current") != key


def test_the_score_head_setting_reaches_the_served_pipeline(artifacts: Path, config_dir: Path) -> None:
    """CARE_SCORE_HEAD: how many candidates the served ranker scores; 0 scores them all."""
    for head, n_score in ((None, N_SCORE), (0, None), (120, 120)):
        kw = {} if head is None else {"score_head": head}
        settings = settings_for(artifacts, config_dir, **kw)
        assert build(settings, create_store(MemoryStoreConfig()), artifacts).pipeline.n_score == n_score
    with pytest.raises(ValidationError, match="score_head"):
        settings_for(artifacts, config_dir, score_head=-1)
