"""Loading llama.cpp models safely on CPUs whose AMX kernels crash (extra buffer types off by default).

llama.cpp's CPU backend puts weights in "extra" buffer types (AMX tiles, repacked layouts) when the
CPU advertises them. On the machines this project runs on, the AMX matmul segfaults in the first
decode (the CPU reports amx_int8 but the kernel does not grant tile state), so every Llama created
through this module has `use_extra_bufts=False`. Set CARE_LLAMA_EXTRA_BUFTS=1 to re-enable them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as lc

_patch_lock = threading.Lock()
_patched = False


def extra_buffers_enabled() -> bool:
    """Whether CARE_LLAMA_EXTRA_BUFTS asks for llama.cpp's extra (AMX/repack) buffer types."""
    return os.environ.get("CARE_LLAMA_EXTRA_BUFTS", "0") == "1"


def apply() -> None:
    """Make llama-cpp-python's default model params use no extra buffer types (idempotent)."""
    global _patched
    with _patch_lock:
        if _patched or extra_buffers_enabled():
            return
        original: Callable[[], Any] = lc.llama_model_default_params

        def default_params() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        lc.llama_model_default_params = default_params
        _patched = True


def load_llama(
    path: Path,
    *,
    n_ctx: int = 512,
    n_threads: int = 2,
    vocab_only: bool = False,
    lora_path: Path | None = None,
) -> llama_cpp.Llama:
    """A Llama for `path` with the safe CPU settings (flash attention on, quiet), plus a LoRA adapter GGUF."""
    apply()
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        n_batch=min(512, n_ctx),
        flash_attn=True,
        vocab_only=vocab_only,
        logits_all=False,
        lora_path=str(lora_path) if lora_path is not None else None,
        verbose=False,
    )
