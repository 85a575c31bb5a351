from cascade.data.dataset import Dataset
from eval.tune_fusion import choose


def _row(w: float, lam: float, ndcg: float, ild: float) -> dict[str, float]:
    return {"weight": w, "mmr_lambda": lam, "ndcg@10": ndcg, "ild_genre": ild}


def test_choose_best_ndcg_within_the_ild_slack_of_the_rules() -> None:
    rows = [
        _row(0.0, 0.7, 0.150, 0.850),  # the rules
        _row(0.5, 0.7, 0.170, 0.845),
        _row(1.0, 0.7, 0.180, 0.820),  # more accurate, but too samey
        _row(0.5, 0.9, 0.170, 0.845),
    ]
    best = choose(rows, base_lambda=0.7)
    assert (best["weight"], best["ndcg@10"]) == (0.5, 0.170)


def test_choose_prefers_the_smaller_weight_on_ties_and_can_pick_zero() -> None:
    rows = [_row(0.0, 0.7, 0.150, 0.85), _row(0.3, 0.7, 0.150, 0.85), _row(0.6, 0.7, 0.140, 0.86)]
    assert choose(rows, base_lambda=0.7)["weight"] == 0.0


def test_a_weight_must_beat_zero_significantly_on_held_out_users() -> None:
    rows = [_row(0.0, 0.7, 0.150, 0.85), _row(0.5, 0.7, 0.160, 0.85)]
    noisy = {(0.0, 0.7): [0.0, 0.3, 0.0, 0.3], (0.5, 0.7): [0.3, 0.0, 0.34, 0.0]}
    assert choose(rows, 0.7, per_user=noisy)["weight"] == 0.0  # a gain within the noise: weight 0
    clear = {(0.0, 0.7): [0.1] * 20, (0.5, 0.7): [0.2] * 20}
    assert choose(rows, 0.7, per_user=clear)["weight"] == 0.5


def test_grid_fills_per_user_ndcg_for_every_setting(ml100k: Dataset) -> None:
    import numpy as np

    from cascade.rerank.rules import RulesReranker
    from cascade.types import Context, ItemText, RerankInput
    from eval.tune_fusion import Sample, grid

    cat = ml100k.catalog
    cands = tuple(
        ItemText(int(i), cat.titles[r], int(cat.years[r]), cat.genres[r])
        for r, i in enumerate(cat.item_ids[:30])
    )
    inp = RerankInput(1, Context(), cands, tuple(float(30 - j) for j in range(30)), (), 10)
    samples = [Sample(inp, np.linspace(0, 1, 30), {cands[-1].item_id})]
    per_user: dict[tuple[float, float], list[float]] = {}
    rows = grid(
        samples,
        RulesReranker.from_yaml(catalog=cat),
        {c.item_id: c.genres for c in cands},
        (0.0, 5.0),
        (0.7,),
        per_user=per_user,
    )
    assert set(per_user) == {(0.0, 0.7), (5.0, 0.7)} and len(rows) == 2
    assert per_user[(5.0, 0.7)][0] > per_user[(0.0, 0.7)][0]  # the boosted relevant item rises
