"""Per-arm result cache: one JSONL file per (arm, context mode, deadline mode), keyed by user + config hash.

Rows are appended and flushed as they are computed, so an interrupted run resumes where it stopped;
a row whose key (user id + the arm's config fingerprint) matches is never recomputed. A torn last
line (a crash mid-write) is ignored on load. Rows from other configs stay in the file untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


def row_key(user: int, fingerprint: str) -> str:
    return f"{user}:{fingerprint}"


class ResultCache:
    """Append-only JSONL of per-user results for one arm run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        self._fh: TextIO | None = None
        if path.is_file():
            for row in self._read(path):
                self.rows[str(row["key"])] = row

    @staticmethod
    def _read(path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn write
                if isinstance(row, dict) and "key" in row:
                    yield row

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def put(self, key: str, row: dict[str, Any]) -> None:
        row = {"key": key, **row}
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = (
                self.path.is_file()
                and self.path.stat().st_size > 0
                and not self.path.read_bytes().endswith(b"\n")
            )
            self._fh = self.path.open("a", encoding="utf-8")
            if torn:  # end the torn line so the new row starts on its own
                self._fh.write("\n")
        self._fh.write(json.dumps(row, sort_keys=True) + "\n")
        self._fh.flush()
        self.rows[key] = row

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
