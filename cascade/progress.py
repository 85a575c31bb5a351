"""Progress bars of the long offline jobs (training, test-window metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress() -> Progress:
    """Bars with a label, a count and the elapsed time, left on screen when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )


def progress_over(p: Progress, label: str, users: list[int]) -> Iterator[int]:
    """The users, one by one, advancing a bar named `label`."""
    task = p.add_task(label, total=len(users))
    for u in users:
        yield u
        p.advance(task)
