"""`care tune`: examples, LoRA training with early stopping on held-out users, checkpoints, export.

Resumable: every validation writes out/checkpoint/state.pt (adapter, optimizer, scheduler, position,
history, RNG state); a rerun with the same settings continues from it. The best adapter by the
held-out users' NDCG@10 of label scores is what gets exported.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cascade.metrics import ndcg_at_k
from cascade.rerank.llm.models import TUNED_ADAPTER
from cascade.tune.config import TuneConfig
from cascade.tune.examples import Example, Negatives, build_examples, load_examples, save_examples
from cascade.tune.export import write_adapter_gguf
from cascade.tune.model import (
    Verbalizer,
    autocast,
    label_scores,
    load_base,
    multilabel_loss,
    pick_device,
    resolve_precision,
    use_every_core,
    with_lora,
)

ADAPTER_DIR = "adapter"
ADAPTER_GGUF = TUNED_ADAPTER
MANIFEST = "manifest.json"
LAST_DIR = "last"
PACKAGES = ("torch", "transformers", "peft", "gguf", "llama_cpp_python", "numpy")


def versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "absent"
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split_users(users: Sequence[int], cfg: TuneConfig) -> tuple[list[int], list[int]]:
    """(train users, held-out users) from a seeded permutation, after the max_users cut."""
    perm = [int(u) for u in np.random.default_rng(cfg.seed).permutation(sorted(users))]
    if cfg.max_users is not None:
        perm = perm[: cfg.max_users]
    n_val = min(cfg.val_users, len(perm) - 1)
    return sorted(perm[n_val:]), sorted(perm[:n_val])


def examples_for(
    cfg: TuneConfig, out: Path, gguf: Path, artifacts: Path | None, forbidden: Sequence[str], progress: bool
) -> tuple[list[Example], list[Example]]:
    """(train, held-out) examples, built once and kept in out/ (rebuilt when the settings change)."""
    paths = {"train": out / "examples_train.jsonl", "val": out / "examples_val.jsonl"}
    stamp = out / "examples.digest"
    key = hashlib.sha256(json.dumps([cfg.digest(), sorted(forbidden)]).encode()).hexdigest()[:16]
    if stamp.is_file() and stamp.read_text() == key and all(p.is_file() for p in paths.values()):
        return load_examples(paths["train"]), load_examples(paths["val"])
    from cascade.rerank.llm.prompts import load_prompt, prompt_path
    from cascade.rerank.llm.tokenizer import LlamaTokenizer
    from cascade.runtime import load_runtime

    rt = load_runtime(artifacts)
    prompt = load_prompt(prompt_path(cfg.prompt), LlamaTokenizer.from_gguf(gguf))
    train_users, val_users = split_users(sorted(set(rt.split.val.user.tolist())), cfg)
    built: dict[str, list[Example]] = {}
    # held-out windows stay hard whatever the training negatives: early stopping measures the ranker's
    # top 20, the windows the served model scores
    plan: tuple[tuple[str, list[int], Negatives], ...] = (
        ("train", train_users, cfg.negatives),
        ("val", val_users, "hard"),
    )
    with tqdm(total=len(train_users) + len(val_users), desc="examples", disable=not progress) as bar:
        for name, users, negatives in plan:
            built[name] = build_examples(
                rt, prompt, users, seed=cfg.seed, forbidden_titles=forbidden,
                title_share=cfg.title_share, negatives=negatives, on_user=lambda: bar.update(1),
            )  # fmt: skip
            save_examples(paths[name], built[name])
    stamp.write_text(key)
    return built["train"], built["val"]


def validate(
    model: Any, verbalizer: Verbalizer, examples: Sequence[Example], device: torch.device, precision: Any
) -> dict[str, float]:
    """Held-out NDCG@10 of the label-score order (positives relevant) and the mean loss."""
    model.eval()
    nd, losses = [], []
    with torch.no_grad(), autocast(device, precision):
        for ex in examples:
            s = label_scores(model, verbalizer, ex.system, ex.user, ex.labels, device)
            losses.append(float(multilabel_loss(s, ex.positives)))
            order = torch.argsort(s, descending=True, stable=True).tolist()
            nd.append(ndcg_at_k(order, set(ex.positives), 10))
    model.train()
    return {"ndcg@10": float(np.mean(nd)), "loss": float(np.mean(losses))}


def _schedule(cfg: TuneConfig, total: int) -> Any:
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / (cfg.warmup_steps + 1)
        return max(0.05, 1.0 - (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))

    return factor


def tune(
    cfg: TuneConfig,
    out: Path,
    gguf: Path,
    *,
    artifacts: Path | None = None,
    forbidden_titles: Sequence[str] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Train, keep the best adapter by held-out NDCG@10, export it; returns the manifest."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoint"
    ckpt_dir.mkdir(exist_ok=True)
    train_ex, val_ex = examples_for(cfg, out, gguf, artifacts, forbidden_titles, progress)
    if not train_ex or not val_ex:
        raise ValueError(f"too few examples: {len(train_ex)} train, {len(val_ex)} held out")
    device = pick_device(cfg.device)
    use_every_core(device)
    precision = resolve_precision(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    from cascade.rerank.llm.tokenizer import LlamaTokenizer

    verbalizer = Verbalizer(LlamaTokenizer.from_gguf(gguf))
    base = load_base(gguf, device)
    model = with_lora(base, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = max(1, len(train_ex) // cfg.grad_accum)
    total = min(cfg.max_steps or per_epoch * cfg.epochs, per_epoch * cfg.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg, total))

    st: dict[str, Any] = {"step": 0, "seen": 0, "history": [], "best": None, "best_step": 0, "bad": 0,
                          "elapsed": 0.0, "stopped": None}  # fmt: skip
    state_file, best_file = ckpt_dir / "state.pt", ckpt_dir / "best.pt"
    resumed = False
    if state_file.is_file():
        saved = torch.load(state_file, weights_only=False)
        if saved["digest"] == cfg.digest():
            set_peft_model_state_dict(model, saved["adapter"])
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            torch.set_rng_state(saved["torch_rng"])
            st = saved["run"]
            resumed = True
            if st["stopped"] != "early_stopping":  # a finished budget may be extended by the rerun
                st["stopped"] = None
    if not st["history"]:
        zero = validate(model, verbalizer, val_ex, device, precision)
        st["history"].append({"step": 0, **zero})
        st["best"], st["best_step"] = zero["ndcg@10"], 0
        torch.save(get_peft_model_state_dict(model), best_file)

    def save_state() -> None:
        state = {"digest": cfg.digest(), "adapter": get_peft_model_state_dict(model),
                 "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "torch_rng": torch.get_rng_state(), "run": st}  # fmt: skip
        torch.save(state, ckpt_dir / "state.tmp")
        (ckpt_dir / "state.tmp").replace(state_file)

    session_start = time.perf_counter()
    elapsed0 = st["elapsed"]
    model.train()
    bar = tqdm(total=total, initial=st["step"], desc="tune", disable=not progress)
    while st["stopped"] is None and st["step"] < total:
        epoch, pos = divmod(st["seen"], len(train_ex))
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train_ex))
        losses = []
        for j in order[pos : pos + cfg.grad_accum]:
            ex = train_ex[int(j)]
            with autocast(device, precision):
                loss = multilabel_loss(
                    label_scores(model, verbalizer, ex.system, ex.user, ex.labels, device), ex.positives
                )
            (loss / cfg.grad_accum).backward()  # type: ignore[no-untyped-call]
            losses.append(float(loss.detach()))
        st["seen"] += len(losses)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        st["step"] += 1
        st["elapsed"] = elapsed0 + time.perf_counter() - session_start
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", best=f"{st['best']:.4f}")
        over_time = cfg.max_minutes is not None and st["elapsed"] > cfg.max_minutes * 60
        if st["step"] % cfg.eval_every == 0 or st["step"] >= total or over_time:
            v = validate(model, verbalizer, val_ex, device, precision)
            st["history"].append(
                {"step": st["step"], "seen": st["seen"], "train_loss": float(np.mean(losses)), **v}
            )
            if v["ndcg@10"] > st["best"]:
                st["best"], st["best_step"], st["bad"] = v["ndcg@10"], st["step"], 0
                torch.save(get_peft_model_state_dict(model), best_file)
            else:
                st["bad"] += 1
            if st["bad"] >= cfg.patience:
                st["stopped"] = "early_stopping"
            elif over_time:
                st["stopped"] = "time_budget"
            st["elapsed"] = elapsed0 + time.perf_counter() - session_start
            save_state()
    bar.close()
    st["stopped"] = st["stopped"] or "completed"
    save_state()

    conf = base.config

    def export(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(folder / ADAPTER_DIR))
        return write_adapter_gguf(
            folder / ADAPTER_GGUF, get_peft_model_state_dict(model), alpha=cfg.alpha,
            n_head=int(conf.num_attention_heads), n_head_kv=int(conf.num_key_value_heads),
        )  # fmt: skip

    export(out / LAST_DIR)  # the final step's weights too, for analysis (serving reads the best)
    set_peft_model_state_dict(model, torch.load(best_file, weights_only=False))
    gguf_out = export(out)
    n_pos = [len(e.positives) for e in train_ex]
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": cfg.model_dump(mode="json"),
        "config_digest": cfg.digest(),
        "seed": cfg.seed,
        "base_model": {"file": gguf.name, "sha256": sha256(gguf)},
        "data": {
            "source": "validation window, candidates from the offline cascade as of each user's window start",
            "train_negatives": cfg.negatives,
            "heldout_negatives": "hard",
            "train_examples": len(train_ex),
            "heldout_examples": len(val_ex),
            "train_users": len({e.user_id for e in train_ex}),
            "heldout_users": len({e.user_id for e in val_ex}),
            "positives_per_example": float(np.mean(n_pos)),
            "titled_share": float(np.mean([e.title is not None for e in train_ex])),
            "window": len(train_ex[0].labels),
        },
        "training": {
            "device": str(device),
            "precision": precision,
            "steps": st["step"],
            "examples_seen": st["seen"],
            "epochs": st["seen"] / len(train_ex),
            "stopped": st["stopped"],
            "train_seconds": st["elapsed"],
            "resumed": resumed,
            "wall_seconds_this_run": time.perf_counter() - t_start,
        },
        "validation": {
            "metric": "ndcg@10 of label scores on held-out users' windows",
            "zero_shot": st["history"][0],
            "best": st["best"],
            "best_step": st["best_step"],
            "history": st["history"],
        },
        "files": {
            "adapter_dir": ADAPTER_DIR,
            "adapter_gguf": ADAPTER_GGUF,
            "adapter_gguf_sha256": sha256(gguf_out),
        },
        "versions": versions(),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
