"""Which arms `care eval` runs: the distinct arms of prompts/experiments.yaml, or names given by flag.

Arms are deduplicated by what they run: two config arms with the same kind and kind fields (e.g.
rerank-v1's llm-single-pass and context-ablation's with-context) are evaluated once, under the first
name. They are resolved by cascade.arms, as the service resolves them, in quality mode (no deadline)
or serving mode (the arms' timeout_ms).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cascade.experiments import EXPERIMENTS_FILE, ArmSpec, load_experiments
from cascade.llm import PROMPTS_DIR

REFERENCE = "rules"


def config_arms(path: Path = EXPERIMENTS_FILE, prompts_dir: Path = PROMPTS_DIR) -> list[ArmSpec]:
    """Every distinct arm of every experiment in the file, in file order, with none and rules first."""
    doc = load_experiments(path, prompts_dir)
    specs = [ArmSpec(name="none", reranker="none"), ArmSpec(name=REFERENCE, reranker="rules")]
    seen = {s.runs() for s in specs}
    for exp in doc.experiments.values():
        for a in exp.arms:
            if a.runs() not in seen:
                seen.add(a.runs())
                specs.append(a)
    return specs


def select_arms(
    names: list[str] | None, path: Path = EXPERIMENTS_FILE, prompts_dir: Path = PROMPTS_DIR
) -> list[ArmSpec]:
    """Arms by name: config arm names, or 'llm:<prompt>' for any prompt file; all when None.

    The rules arm is always included (it is the reference of every comparison)."""
    known = config_arms(path, prompts_dir)
    if not names:
        return known
    by_name = {a.name: a for a in known}
    out: list[ArmSpec] = []
    for n in names:
        if n in by_name:
            out.append(by_name[n])
        elif n.startswith("llm:"):
            prompt = n.split(":", 1)[1]
            if not (prompts_dir / f"{prompt}.yaml").is_file():
                raise ValueError(f"no prompt file prompts/{prompt}.yaml")
            # the serving deadline of the file's first llm arm (used only with --deadline)
            timeout = next((a.timeout_ms for a in known if a.reranker == "llm"), None)
            out.append(
                ArmSpec.model_validate(
                    {"name": n, "reranker": "llm", "prompt": prompt, "timeout_ms": timeout}
                )
            )
        else:
            raise ValueError(f"unknown arm {n!r}; known: {sorted(by_name)} or llm:<prompt>")
    if not any(a.name == REFERENCE for a in out):
        out.insert(0, by_name[REFERENCE])
    return list({a.name: a for a in out}.values())


def fingerprint(spec: ArmSpec, extra: dict[str, Any], prompts_dir: Path = PROMPTS_DIR) -> str:
    """Hash of the spec, the contents of the files it reads, and `extra` (backend, mode, data)."""
    h = hashlib.sha256()
    doc = {"spec": spec.model_dump(mode="json", exclude={"weight"}), "options": spec.options.model_dump()}
    h.update(json.dumps({**doc, "extra": extra}, sort_keys=True, default=str).encode())
    for f in spec.files(prompts_dir):
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()[:16]
