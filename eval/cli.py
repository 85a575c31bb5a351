"""Entry point behind `care eval` (service/cli.py parses the flags and calls eval_cli)."""

from __future__ import annotations

from pathlib import Path

from cascade.llm import DIALECTS, HTTPBackendConfig, InProcessBackendConfig, LLMSettings
from eval.harness import ContextMode, EvalConfig

PROTOCOLS = ("derived", "titles")  # derived: titles from each user's history; titles: eval/titles.yaml
CONTEXTS: dict[str, tuple[ContextMode, ...]] = {
    "both": ("with", "without"),
    "with": ("with",),
    "without": ("without",),
}


def eval_cli(
    users: int | None = None,
    llm_users: int | None = None,
    seed: int = 0,
    arms: list[str] | None = None,
    context: str = "both",
    deadline: bool = False,
    base_url: str | None = None,
    model: str = "default",
    dialect: str = "llamacpp",
    name: str | None = None,
    out: Path | None = None,
    cache_dir: Path | None = None,
    artifacts: Path | None = None,
    baselines: bool = True,
    n_boot: int = 2000,
    progress: bool = True,
    protocol: str = "derived",
    titles: Path | None = None,
    order_users: int = 0,
    order_passes: int = 2,
    tuned_adapter: Path | None = None,
) -> Path:
    """Run the offline evaluation and write the report folder; returns its path (printed by the CLI)."""
    from eval.runner import default_out, evaluate

    if protocol not in PROTOCOLS:
        raise ValueError(f"--protocol must be one of {list(PROTOCOLS)}, not {protocol!r}")
    if context not in CONTEXTS:
        raise ValueError(f"--context must be one of {sorted(CONTEXTS)}, not {context!r}")
    if dialect not in DIALECTS:
        raise ValueError(f"--dialect must be one of {list(DIALECTS)}, not {dialect!r}")
    if (users is not None and users < 1) or (llm_users is not None and llm_users < 1):
        raise ValueError("--users and --llm-users must be at least 1")
    backend = (
        HTTPBackendConfig.model_validate({"base_url": base_url, "model": model, "dialect": dialect})
        if base_url
        else InProcessBackendConfig(tuned_adapter=tuned_adapter)
    )
    folder = out or default_out(name)
    cfg = EvalConfig(
        users=users,
        llm_users=llm_users,
        seed=seed,
        arms=list(arms) if arms else None,
        contexts=CONTEXTS[context],
        deadline=deadline,
        llm=LLMSettings(backend=backend),
        n_boot=n_boot,
        baselines=baselines,
        out=folder,
        cache_dir=cache_dir,
        artifacts=artifacts,
        progress=progress,
        order_users=order_users,
        order_passes=order_passes,
    )
    if titles is not None and protocol != "titles":
        raise ValueError("--titles needs --protocol titles")
    if protocol == "titles":
        from eval.title_protocol import evaluate_titles
        from eval.titlefit import TITLES_FILE

        return evaluate_titles(cfg, titles or TITLES_FILE)
    from cascade.llm import use_score_store
    from eval.score_store import JsonlScoreStore
    from eval.tune_fusion import store_path

    store = JsonlScoreStore(store_path(cache_dir or folder.parent / "cache", cfg.llm, "fused"))
    use_score_store(store)  # the fused arms' LLM window scores, kept across runs
    try:
        return evaluate(cfg)
    finally:
        use_score_store(None)
        store.close()
