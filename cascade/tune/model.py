"""The embedded model in torch: loaded by transformers from the GGUF (dequantized), LoRA by peft,
and the verbalizer: label scores at the first output position, as the served model computes them.

A label's score is the logsumexp of its token forms' logits (bare and space-prefixed, as
cascade.rerank.llm.constraint.label_token_ids lists them), log-softmaxed over the window's labels:
the same numbers `FusedLLMReranker` gets from llama.cpp after `window_logprobs`. Prompts are
tokenized by the GGUF's own tokenizer through llama.cpp (cascade.rerank.llm.tokenizer), so training
and serving see identical token ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from cascade.cores import usable_cores
from cascade.rerank.llm.constraint import label_token_ids
from cascade.rerank.llm.labels import labels_for
from cascade.rerank.llm.tokenizer import LlamaTokenizer

Precision = Literal["auto", "fp32", "bf16"]
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def use_every_core(device: torch.device) -> int:
    """On the CPU, one torch thread per usable core; returns the count (0 on a GPU).

    faiss and torch share one OpenMP runtime, so the cascade's single-threaded searches (which build
    the training examples) leave torch at one thread too: training would use one core of two.
    """
    if device.type != "cpu":
        return 0
    n = usable_cores()
    torch.set_num_threads(n)
    return n


def cpu_has_bf16() -> bool:
    """Whether the CPU has native bf16 matmuls (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: Precision, device: torch.device) -> Literal["fp32", "bf16"]:
    """auto: bf16 autocast where the hardware has it (most GPUs, recent CPUs), else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


@contextlib.contextmanager
def autocast(device: torch.device, precision: Literal["fp32", "bf16"]) -> Iterator[None]:
    """bf16 autocast when asked (weights and LoRA parameters stay fp32)."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield


def load_base(gguf: Path, device: torch.device) -> Any:
    """The causal LM from the GGUF file, dequantized to fp32, with frozen weights."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    model.requires_grad_(False)
    return model.to(device)


def with_lora(model: Any, rank: int, alpha: float, dropout: float, targets: Sequence[str] = TARGETS) -> Any:
    """`model` wrapped by peft with fresh LoRA adapters on `targets`."""
    from peft import LoraConfig, get_peft_model

    # peft types lora_alpha as int but uses it as a float (scale = alpha / r)
    options: dict[str, Any] = {"r": rank, "lora_alpha": alpha, "lora_dropout": dropout}
    return get_peft_model(model, LoraConfig(**options, target_modules=list(targets), bias="none"))


def load_adapter(model: Any, adapter_dir: Path) -> Any:
    """`model` with a saved peft adapter folder applied (inference)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir))


class Verbalizer:
    """Token ids of prompts and labels, by the served model's tokenizer."""

    def __init__(self, tokenizer: LlamaTokenizer, max_labels: int = 26, scheme: Literal["upper"] = "upper"):
        self.tokenizer = tokenizer
        labels = labels_for(scheme, max_labels)
        forms: dict[str, list[int]] = {lab: [] for lab in labels}
        for tid, lab in label_token_ids(labels, tokenizer).items():
            forms[lab].append(tid)
        self.forms = forms

    def encode(self, system: str, user: str) -> list[int]:
        return self.tokenizer.encode_chat(system, user)

    def form_ids(self, labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, mask) of shape (labels, 2): each label's token forms, padded (mask False)."""
        width = max(len(self.forms[lab]) for lab in labels)
        ids = torch.zeros(len(labels), width, dtype=torch.long)
        mask = torch.zeros(len(labels), width, dtype=torch.bool)
        for i, lab in enumerate(labels):
            f = self.forms[lab]
            ids[i, : len(f)] = torch.tensor(f)
            mask[i, : len(f)] = True
        return ids, mask


def label_scores(
    model: Any, verbalizer: Verbalizer, system: str, user: str, labels: Sequence[str], device: torch.device
) -> torch.Tensor:
    """Per label, its log-probability renormalised over `labels`, at the first output position."""
    ids = torch.tensor([verbalizer.encode(system, user)], dtype=torch.long, device=device)
    logits = model(input_ids=ids, logits_to_keep=1).logits[0, -1].float()
    logp = torch.log_softmax(logits, dim=-1)
    form, mask = verbalizer.form_ids(labels)
    per_form = logp[form.to(device)].masked_fill(~mask.to(device), float("-inf"))
    per_label = torch.logsumexp(per_form, dim=-1)
    return torch.log_softmax(per_label, dim=-1)


def multilabel_loss(scores: torch.Tensor, positives: Sequence[int]) -> torch.Tensor:
    """Cross-entropy against the uniform distribution over the positive labels."""
    return -scores[list(positives)].mean()
