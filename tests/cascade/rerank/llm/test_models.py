from __future__ import annotations

from pathlib import Path

from cascade.assets import is_present, sha256_file
from cascade.rerank.llm.models import SMOLLM2, pull_smollm2


def test_pull_is_idempotent_and_verified(gguf: Path) -> None:
    assert pull_smollm2() == gguf
    assert is_present(SMOLLM2, gguf.parent)
    assert sha256_file(gguf) == dict(SMOLLM2.file_sha256)[gguf.name]
