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
