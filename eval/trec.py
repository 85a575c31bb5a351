"""TREC run and qrels files, so trec_eval or ranx can recompute the accuracy metrics.

run:   `<user> Q0 <item> <rank> <score> <arm>` per line, ranks 1..k. The score is k - rank + 1, so
       sorting by score (as trec_eval does) gives back the list's order exactly.
qrels: `<user> 0 <item> 1` per relevant (test-window) item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def write_run(path: Path, lists: Mapping[int, Sequence[int]], tag: str) -> None:
    lines = []
    for user in sorted(lists):
        items = list(lists[user])
        k = len(items)
        lines += [f"{user} Q0 {item} {r} {k - r + 1} {tag}" for r, item in enumerate(items, start=1)]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def write_qrels(path: Path, truth: Mapping[int, Sequence[int] | set[int]]) -> None:
    lines = [f"{user} 0 {item} 1" for user in sorted(truth) for item in sorted(truth[user])]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def read_run(path: Path) -> dict[int, list[int]]:
    """user -> items, ordered by score descending (ties: item id descending, as trec_eval does)."""
    rows: dict[int, list[tuple[float, int]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if len(parts) != 6 or parts[1] != "Q0":
            raise ValueError(f"{path}:{n}: not a TREC run line: {line!r}")
        rows.setdefault(int(parts[0]), []).append((float(parts[4]), int(parts[2])))
    return {u: [item for _s, item in sorted(r, key=lambda t: (-t[0], -t[1]))] for u, r in rows.items()}


def read_qrels(path: Path) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"{path}:{n}: not a qrels line: {line!r}")
        if int(parts[3]) > 0:
            out.setdefault(int(parts[0]), set()).add(int(parts[2]))
    return out
