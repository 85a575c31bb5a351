"""The adapter GGUF: names and shapes llama.cpp expects, q/k rows in llama.cpp's order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cascade.tune.export import gguf_tensors, permute_rows, write_adapter_gguf


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' inverse (what it applies to attn_q / attn_k when it loads a GGUF)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def test_permute_rows_is_undone_by_the_loaders_inverse() -> None:
    w = np.arange(24 * 3, dtype=np.float32).reshape(24, 3)
    p = permute_rows(w, n_head=3)
    assert not np.array_equal(p, w)
    assert np.array_equal(_unpermute(p, 3), w)
    # per head of 8 rows, the two rotary halves interleave: rows 0, 4, 1, 5, ...
    assert p[:4, 0].tolist() == [w[0, 0], w[4, 0], w[1, 0], w[5, 0]]


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    pre = "base_model.model.model.layers.0."
    return {
        pre + "self_attn.q_proj.lora_A.weight": torch.randn(4, 16, generator=g),
        pre + "self_attn.q_proj.lora_B.weight": torch.randn(16, 4, generator=g),
        pre + "self_attn.k_proj.lora_A.weight": torch.randn(4, 16, generator=g),
        pre + "self_attn.k_proj.lora_B.weight": torch.randn(8, 4, generator=g),
        pre + "mlp.down_proj.lora_A.weight": torch.randn(4, 32, generator=g),
        pre + "mlp.down_proj.lora_B.weight": torch.randn(16, 4, generator=g),
    }


def test_gguf_tensors_names_and_permutation() -> None:
    state = _state()
    t = gguf_tensors(state, n_head=4, n_head_kv=2)
    assert sorted(t) == sorted(
        f"blk.0.{n}.weight.lora_{ab}" for n in ("attn_q", "attn_k", "ffn_down") for ab in "ab"
    )
    pre = "base_model.model.model.layers.0."
    q_b = state[pre + "self_attn.q_proj.lora_B.weight"].numpy()
    k_b = state[pre + "self_attn.k_proj.lora_B.weight"].numpy()
    assert np.array_equal(t["blk.0.attn_q.weight.lora_b"], permute_rows(q_b, 4))
    assert np.array_equal(t["blk.0.attn_k.weight.lora_b"], permute_rows(k_b, 2))
    assert np.array_equal(
        t["blk.0.attn_q.weight.lora_a"], state[pre + "self_attn.q_proj.lora_A.weight"].numpy()
    )
    assert np.array_equal(
        t["blk.0.ffn_down.weight.lora_b"], state[pre + "mlp.down_proj.lora_B.weight"].numpy()
    )


def test_written_adapter_reads_back(tmp_path: Path) -> None:
    import gguf

    path = write_adapter_gguf(tmp_path / "a.gguf", _state(), alpha=8.0, n_head=4, n_head_kv=2)
    r = gguf.GGUFReader(str(path))
    fields = {k: r.fields[k] for k in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in r.tensors}
    # ggml order (columns first): lora_a is (in, r), lora_b is (r, out)
    assert shapes["blk.0.attn_q.weight.lora_a"] == (16, 4)
    assert shapes["blk.0.attn_q.weight.lora_b"] == (4, 16)
