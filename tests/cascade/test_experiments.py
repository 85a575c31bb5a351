from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cascade.experiments import Experiment, bucket, load_experiments

SHIPPED = load_experiments()


def test_shipped_experiments_validate_and_favour_rules() -> None:
    exp = SHIPPED.get()
    assert SHIPPED.default == "rerank-v1"
    weights = {a.name: a.weight for a in exp.arms}
    assert set(weights) == {"rules", "llm-listwise", "llm-single-pass", "none"}
    assert weights["rules"] == max(weights.values())
    assert {a.options.model_dump()["prompt"] for a in exp.arms if a.reranker == "llm"} == {
        "listwise",
        "single_pass",
    }


def test_assignment_is_deterministic_and_salted() -> None:
    exp = SHIPPED.get()
    first = [exp.assign(u).name for u in range(500)]
    assert first == [exp.assign(u).name for u in range(500)]
    assert bucket(7, "a") == bucket(7, "a") != bucket(7, "b")
    other = exp.model_copy(update={"salt": "another-salt"})
    assert first != [other.assign(u).name for u in range(500)]


def test_assignment_follows_weights_over_many_users() -> None:
    exp = SHIPPED.get()
    n = 20_000
    counts = Counter(exp.assign(u).name for u in range(n))
    total = sum(a.weight for a in exp.arms)
    for a in exp.arms:
        share = a.weight / total
        # 4 standard deviations of a binomial share at n = 20k: below 0.013 for every arm here
        assert abs(counts[a.name] / n - share) < 4 * (share * (1 - share) / n) ** 0.5 + 1e-9, (a.name, counts)


def test_forced_arm_and_unknown_names() -> None:
    exp = SHIPPED.get()
    assert all(exp.assign(u, forced="none").name == "none" for u in range(20))
    with pytest.raises(ValueError, match="unknown arm 'nope'; arms are"):
        exp.assign(1, forced="nope")
    with pytest.raises(ValueError, match="unknown experiment"):
        SHIPPED.get("nope")


def test_zero_weight_arm_gets_nobody_unless_forced() -> None:
    exp = Experiment.model_validate(
        {
            "salt": "s",
            "arms": [
                {"name": "a", "weight": 1, "reranker": "rules"},
                {"name": "b", "weight": 0, "reranker": "none"},
            ],
        }
    )
    assert {exp.assign(u).name for u in range(1000)} == {"a"}
    assert exp.assign(3, forced="b").name == "b"


HEAD = "experiments:\n  e:\n    salt: s\n    arms:\n"


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ("- {name: a, weight: 1, reranker: llm, timeout_ms: 5}", "prompt: Field required"),
        ("- {name: a, weight: 1, reranker: llm, prompt: listwise}", "needs timeout_ms"),
        ("- {name: a, weight: 1, reranker: rules, timeout_ms: 20}", "has no deadline"),
        ("- {name: a, weight: 1, reranker: gpt}", "unknown reranker 'gpt'; kinds are"),
        ("- {name: a, weight: 1, reranker: none, color: red}", "color"),
        (
            "- {name: a, weight: 1, reranker: none}\n      - {name: a, weight: 1, reranker: rules}",
            "duplicate arm",
        ),
        ("- {name: a, weight: 0, reranker: none}", "sum to more than 0"),
        (
            "- {name: a, weight: 1, reranker: llm, prompt: missing, timeout_ms: 5}",
            "no file missing.yaml",
        ),
        ("- [", "invalid YAML"),
    ],
)
def test_invalid_files_are_rejected_naming_the_file(tmp_path: Path, arms: str, message: str) -> None:
    path = tmp_path / "experiments.yaml"
    path.write_text(HEAD + "      " + arms + "\n")
    with pytest.raises(ValueError) as err:
        load_experiments(path)
    assert str(path) in str(err.value) and message in str(err.value)
