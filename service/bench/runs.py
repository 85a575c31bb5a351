"""What the reliability benches share: a Redis key prefix of a run's own, and the JSON they print."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis


@contextlib.contextmanager
def redis_prefix(url: str, label: str) -> Iterator[str]:
    """A fresh key prefix on `url` for one run; its keys are deleted afterwards, whatever happened."""
    prefix = f"care-{label}-{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        r = redis.Redis.from_url(url)
        try:
            keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
            for i in range(0, len(keys), 500):
                r.delete(*keys[i : i + 500])
        finally:
            r.close()


def emit(result: Any, out: Path | None = None) -> None:
    """Print a bench's result (a dataclass or a dict) as JSON, and write it to `out` too."""
    is_instance = dataclasses.is_dataclass(result) and not isinstance(result, type)
    data = dataclasses.asdict(result) if is_instance else result
    text = json.dumps(data, indent=2)
    print(text)
    if out is not None:
        out.write_text(text)
