from __future__ import annotations

from cascade.rerank.llm.repair import order_by_scores, repair

LABELS = ("A", "B", "C", "D")
IDS = (10, 11, 12, 13)


def test_valid_answer_needs_no_repair() -> None:
    r = repair(["C", "A"], LABELS, IDS, required=2)
    assert r.item_ids == [12, 10, 11, 13] and r.valid_before_repair


def test_unknown_labels_are_dropped_and_counted() -> None:
    r = repair(["Z", "B", "item 7"], LABELS, IDS, required=1)
    assert r.item_ids == [11, 10, 12, 13] and r.unknown == 2 and not r.valid_before_repair


def test_duplicates_are_removed_and_counted() -> None:
    r = repair(["B", "B", "A", "B"], LABELS, IDS, required=2)
    assert r.item_ids == [11, 10, 12, 13] and r.duplicate == 2


def test_missing_labels_are_appended_in_ranker_order() -> None:
    r = repair(["D"], LABELS, IDS, required=3)
    assert r.item_ids == [13, 10, 11, 12] and r.missing == 2


def test_scores_order_labels_and_unscored_follow_in_ranker_order() -> None:
    assert order_by_scores({"C": -1.0, "A": -2.0}, LABELS) == ["C", "A", "B", "D"]
    assert order_by_scores({"B": -1.0, "D": -1.0}, LABELS) == ["B", "D", "A", "C"]
