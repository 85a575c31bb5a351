"""Where care keeps data, model files and trained artifacts."""

from __future__ import annotations

import os
from pathlib import Path


def care_home() -> Path:
    """$CARE_HOME, default ~/.cache/care."""
    return Path(os.environ.get("CARE_HOME", Path.home() / ".cache" / "care")).expanduser()


def data_dir() -> Path:
    return care_home() / "data"


def models_dir() -> Path:
    return care_home() / "models"


def artifacts_dir() -> Path:
    """$CARE_ARTIFACTS, default $CARE_HOME/artifacts/current."""
    env = os.environ.get("CARE_ARTIFACTS")
    return Path(env).expanduser() if env else care_home() / "artifacts" / "current"
