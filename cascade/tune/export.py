"""A peft LoRA adapter as a llama.cpp adapter GGUF (`Llama(lora_path=...)`).

llama.cpp pairs `<tensor>.lora_a` (r x in, as peft's lora_A) with `<tensor>.lora_b` (out x r, as
peft's lora_B) and scales by adapter.lora.alpha / r. llama.cpp stores attn_q / attn_k with their
rows permuted (its HF converter interleaves the rotary halves per head; transformers undoes that
when it loads a GGUF), so lora_b of q_proj / k_proj gets the same row permutation here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])(?:\.default)?\.weight$")


def permute_rows(w: npt.NDArray[np.float32], n_head: int) -> npt.NDArray[np.float32]:
    """llama.cpp's q/k row order: per head, the two rotary halves interleaved (as its HF converter)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensors(state: dict[str, Any], n_head: int, n_head_kv: int) -> dict[str, npt.NDArray[np.float32]]:
    """peft state dict (lora_A / lora_B per module) -> {blk.N.<tensor>.weight.lora_{a,b}: array}."""
    out: dict[str, npt.NDArray[np.float32]] = {}
    for key, value in state.items():
        m = _KEY.search(key)
        if m is None:
            raise ValueError(f"unexpected adapter tensor {key!r}")
        layer, module, ab = int(m.group(1)), m.group(2), m.group(3)
        if module not in GGUF_NAMES:
            raise ValueError(f"no GGUF tensor for module {module!r}")
        w = np.ascontiguousarray(value.detach().float().cpu().numpy(), dtype=np.float32)
        if ab == "B" and module == "self_attn.q_proj":
            w = permute_rows(w, n_head)
        elif ab == "B" and module == "self_attn.k_proj":
            w = permute_rows(w, n_head_kv)
        out[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{ab.lower()}"] = np.ascontiguousarray(w)
    return out


def write_adapter_gguf(
    path: Path, state: dict[str, Any], *, alpha: float, n_head: int, n_head_kv: int, arch: str = "llama"
) -> Path:
    """Write the adapter GGUF; returns `path`."""
    import gguf

    tensors = gguf_tensors(state, n_head, n_head_kv)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
