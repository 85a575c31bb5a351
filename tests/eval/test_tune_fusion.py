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
