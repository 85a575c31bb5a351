"""Turn whatever the model returned into a valid order of the closed candidate set, counting repairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Repaired:
    """A full permutation of the candidates, and what had to be fixed to get it."""

    item_ids: list[int]
    unknown: int
    duplicate: int
    missing: int

    @property
    def valid_before_repair(self) -> bool:
        return self.unknown == 0 and self.duplicate == 0 and self.missing == 0


def repair(answer: Sequence[str], labels: Sequence[str], item_ids: Sequence[int], required: int) -> Repaired:
    """Map labels to ids: unknown labels dropped, duplicates removed, missing appended in ranker order.

    `labels[i]` names `item_ids[i]` (ranker order); `required` is how many distinct labels a valid
    answer must hold. Ids beyond the labelled prefix keep their ranker order at the end.
    """
    index = {lab: i for i, lab in enumerate(labels)}
    seen: set[int] = set()
    order: list[int] = []
    unknown = duplicate = 0
    for lab in answer:
        i = index.get(lab)
        if i is None:
            unknown += 1
        elif i in seen:
            duplicate += 1
        else:
            seen.add(i)
            order.append(i)
    missing = max(0, required - len(order))
    rest = [i for i in range(len(item_ids)) if i not in seen]
    return Repaired([item_ids[i] for i in order + rest], unknown, duplicate, missing)


def order_by_scores(scores: dict[str, float], labels: Sequence[str]) -> list[str]:
    """Labels by descending score; labels without a score follow in their given (ranker) order."""
    scored = sorted(
        (lab for lab in labels if lab in scores), key=lambda lab: (-scores[lab], labels.index(lab))
    )
    return scored + [lab for lab in labels if lab not in scores]
