"""The A/B impression log: every /recommend answer and every event's attribution, append-only and bounded.

Two backends behind one Protocol (and one contract test suite):
- `RedisImpressionLog`: two Redis Streams (`{p}ab:imp`, `{p}ab:out`) trimmed with XADD MAXLEN ~, and a
  short per-user list `{p}ab:u:<user>` (newest first, expiring after the attribution window) that the
  attribution reads in one round trip;
- `SqliteImpressionLog`: one local SQLite file (WAL) for the embedded default, trimmed to the newest rows.
Records are compact JSON arrays (one field per stream entry), so a million of them parse in seconds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

READ_CHUNK = 10_000
RECENT_PER_USER = 20  # impressions per user kept for attribution (Redis backend)


class LogUnavailable(Exception):
    """The log backend did not answer (the caller counts it and goes on)."""


@dataclass(frozen=True, slots=True)
class Impression:
    """One /recommend answer as the user saw it."""

    ts: float  # server clock, unix seconds
    request_id: str
    user_id: int
    experiment: str | None
    arm: str
    reranker: str
    fallback_reason: str | None
    prompt_version: str | None
    items: tuple[int, ...]  # position i + 1 shows items[i]
    total_ms: float
    rerank_ms: float
    forced: bool

    def row(self) -> list[Any]:
        """The encoded field order (I_* below); items as one space-separated string (cheap to skip)."""
        items = " ".join(map(str, self.items))
        return [self.ts, self.request_id, self.user_id, self.experiment, self.arm, self.reranker,
                self.fallback_reason, self.prompt_version, items, self.total_ms, self.rerank_ms,
                int(self.forced)]  # fmt: skip

    def encode(self) -> str:
        return json.dumps(self.row(), separators=(",", ":"))

    @staticmethod
    def decode(raw: str | bytes) -> Impression:
        return Impression.from_row(json.loads(raw))

    @staticmethod
    def from_row(v: list[Any]) -> Impression:
        return Impression(
            float(v[0]), str(v[1]), int(v[2]), v[3], str(v[4]), str(v[5]), v[6], v[7],
            tuple(int(i) for i in v[8].split()), float(v[9]), float(v[10]), bool(v[11]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """One event and what it was attributed to (experiment, arm, request id, position), if anything."""

    ts: float  # server clock at ingest
    user_id: int
    item_id: int
    type: str
    request_id: str | None
    experiment: str | None
    arm: str | None
    position: int | None  # 1-based, in the attributed impression
    how: str | None  # "request_id" | "window" | None (unattributed)

    def row(self) -> list[Any]:
        """The encoded field order (O_* below)."""
        return [self.ts, self.user_id, self.item_id, self.type, self.request_id, self.experiment, self.arm,
                self.position, self.how]  # fmt: skip

    def encode(self) -> str:
        return json.dumps(self.row(), separators=(",", ":"))

    @staticmethod
    def decode(raw: str | bytes) -> Outcome:
        return Outcome.from_row(json.loads(raw))

    @staticmethod
    def from_row(v: list[Any]) -> Outcome:
        return Outcome(float(v[0]), int(v[1]), int(v[2]), str(v[3]), v[4], v[5], v[6], v[7], v[8])


# field positions in encoded rows
I_TS, I_RID, I_USER, I_EXP, I_ARM, I_RERANKER, I_FALLBACK, I_PROMPT, I_ITEMS, I_TOTAL, I_RERANK, I_FORCED = (
    range(12)
)
O_TS, O_USER, O_ITEM, O_TYPE, O_RID, O_EXP, O_ARM, O_POS, O_HOW = range(9)


class ImpressionLog(Protocol):
    """Append impressions and outcomes; read a user's recent impressions; read both back by time."""

    name: str

    def append(self, impressions: Sequence[Impression]) -> None: ...

    def record(self, outcomes: Sequence[Outcome]) -> None: ...

    def recent(self, user_id: int, since: float) -> list[Impression]:
        """The user's impressions at or after `since`, newest first."""
        ...

    def impression_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        """Impressions with since <= ts <= until as encoded rows (the fields of `Impression`, in order),
        in chunks decoded at once: a million parse in seconds, where objects would take far longer."""
        ...

    def outcome_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]: ...

    def close(self) -> None: ...


def read_impressions(log: ImpressionLog, since: float, until: float) -> Iterator[Impression]:
    """The impressions of [since, until] as objects."""
    return (Impression.from_row(r) for rows in log.impression_rows(since, until) for r in rows)


def read_outcomes(log: ImpressionLog, since: float, until: float) -> Iterator[Outcome]:
    """The outcomes of [since, until] as objects."""
    return (Outcome.from_row(r) for rows in log.outcome_rows(since, until) for r in rows)


def _decode_chunk(raw: Sequence[str] | Sequence[bytes], since: float, until: float) -> list[list[Any]]:
    """Rows of one chunk with since <= ts <= until (one JSON parse for the whole chunk)."""
    if not raw:
        return []
    if isinstance(raw[0], bytes):
        rows: list[list[Any]] = json.loads(b"[" + b",".join(raw) + b"]")  # type: ignore[arg-type]
    else:
        rows = json.loads("[" + ",".join(raw) + "]")  # type: ignore[arg-type]
    return [r for r in rows if since <= r[0] <= until]


class RedisImpressionLog:
    """Redis Streams, trimmed by length (XADD MAXLEN ~), plus a per-user recent list for attribution."""

    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "care:",
        *,
        max_len: int = 5_000_000,
        window_s: float = 1800.0,
        socket_timeout_s: float = 0.5,
    ) -> None:
        self._r = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry_on_timeout=False,
        )
        self.imp_key, self.out_key, self.user_prefix = f"{prefix}ab:imp", f"{prefix}ab:out", f"{prefix}ab:u:"
        self.max_len, self.window_s = max_len, window_s

    def _run(self, fn: Any) -> Any:
        try:
            return fn()
        except (redis.RedisError, OSError) as exc:
            raise LogUnavailable(f"redis impression log: {exc}") from exc

    def append(self, impressions: Sequence[Impression]) -> None:
        def go() -> None:
            pipe = self._r.pipeline(transaction=False)
            ttl = max(1, int(self.window_s) + 1)
            for imp in impressions:
                raw = imp.encode()
                pipe.xadd(self.imp_key, {"d": raw}, maxlen=self.max_len, approximate=True)
                key = f"{self.user_prefix}{imp.user_id}"
                pipe.lpush(key, raw)
                pipe.ltrim(key, 0, RECENT_PER_USER - 1)
                pipe.expire(key, ttl)
            pipe.execute()

        self._run(go)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        def go() -> None:
            pipe = self._r.pipeline(transaction=False)
            for o in outcomes:
                pipe.xadd(self.out_key, {"d": o.encode()}, maxlen=self.max_len, approximate=True)
            pipe.execute()

        self._run(go)

    def recent(self, user_id: int, since: float) -> list[Impression]:
        raw = self._run(lambda: self._r.lrange(f"{self.user_prefix}{user_id}", 0, -1))
        out = [Impression.decode(r) for r in raw]
        return sorted((i for i in out if i.ts >= since), key=lambda i: -i.ts)

    def _read(self, key: str, since: float, until: float) -> Iterator[list[list[Any]]]:
        # entry ids are the write time, never before the record's own time: start at `since`, read to the
        # end (a record written late, or backfilled, may sit anywhere after), filter on the record's time
        start, end = f"{int(since * 1000)}", "+"
        while True:
            chunk = self._run(lambda s=start: self._xrange_raw(key, s, end))
            yield _decode_chunk([fields[1] for _id, fields in chunk], since, until)
            if len(chunk) < READ_CHUNK:
                return
            last = chunk[-1][0].decode()
            start = f"({last}"

    def _xrange_raw(self, key: str, start: str, end: str) -> list[Any]:
        """XRANGE without redis-py's per-entry dict building: [[id, [b"d", payload]], ...]."""
        conn = self._r.connection_pool.get_connection("XRANGE")
        try:
            conn.send_command("XRANGE", key, start, end, "COUNT", READ_CHUNK)
            out: list[Any] = conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        finally:
            self._r.connection_pool.release(conn)
        return out

    def impression_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        return self._read(self.imp_key, since, until)

    def outcome_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        return self._read(self.out_key, since, until)

    def delete_all(self) -> None:
        """Remove this log's keys (tests, simulations and benchmarks on their own prefix)."""
        keys: list[Any] = [self.imp_key, self.out_key]
        keys += list(self._r.scan_iter(match=f"{self.user_prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            self._r.delete(*keys[i : i + 1000])

    def close(self) -> None:
        self._r.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS impressions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, user INTEGER NOT NULL,
                                        d TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS impressions_user_ts ON impressions (user, ts);
CREATE INDEX IF NOT EXISTS impressions_ts ON impressions (ts);
CREATE TABLE IF NOT EXISTS outcomes (id INTEGER PRIMARY KEY, ts REAL NOT NULL, d TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_ts ON outcomes (ts);
"""


class SqliteImpressionLog:
    """One local SQLite file (WAL), insert-only; rows beyond `max_rows` are trimmed, oldest first."""

    name = "sqlite"
    TRIM_EVERY = 1000

    def __init__(self, path: Path, *, max_rows: int = 5_000_000) -> None:
        self.path, self.max_rows = path, max_rows
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"{path}: cannot open the impression log: {exc}") from exc
        self._lock = threading.Lock()
        self._since_trim = 0

    def _run(self, fn: Any) -> Any:
        try:
            with self._lock:
                return fn()
        except sqlite3.Error as exc:
            raise LogUnavailable(f"{self.path}: {exc}") from exc

    def _trim(self, table: str, n: int) -> None:
        self._since_trim += n
        if self._since_trim < self.TRIM_EVERY:
            return
        self._since_trim = 0
        self._db.execute(
            f"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - ?", (self.max_rows,)
        )

    def _insert(self, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert `rows` in one transaction (all or none), then trim `table` to its bound."""
        marks = ", ".join("?" * len(columns.split(", ")))

        def go() -> None:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._trim(table, len(rows))

        self._run(go)

    def append(self, impressions: Sequence[Impression]) -> None:
        self._insert("impressions", "ts, user, d", [(i.ts, i.user_id, i.encode()) for i in impressions])

    def record(self, outcomes: Sequence[Outcome]) -> None:
        self._insert("outcomes", "ts, d", [(o.ts, o.encode()) for o in outcomes])

    def recent(self, user_id: int, since: float) -> list[Impression]:
        rows = self._run(
            lambda: self._db.execute(
                "SELECT d FROM impressions WHERE user = ? AND ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
                (user_id, since, RECENT_PER_USER),
            ).fetchall()
        )
        return [Impression.decode(r[0]) for r in rows]

    def _read(self, table: str, since: float, until: float) -> Iterator[list[list[Any]]]:
        # walk the rowid (insertion order) between the first and last row of the range, filtering on ts:
        # a ts-ordered plan would re-sort the whole range for every chunk
        lo, hi = self._run(
            lambda: self._db.execute(
                f"SELECT (SELECT MIN(id) FROM {table} WHERE ts >= ?), "
                f"(SELECT MAX(id) FROM {table} WHERE ts <= ?)",
                (since, until),
            ).fetchone()
        )
        if lo is None or hi is None:
            return
        last = lo - 1
        while last < hi:
            rows = self._run(
                lambda a=last: self._db.execute(
                    f"SELECT id, d FROM {table} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                    (a, hi, READ_CHUNK),
                ).fetchall()
            )
            if not rows:
                return
            yield _decode_chunk([d for _id, d in rows], since, until)
            last = rows[-1][0]

    def impression_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        return self._read("impressions", since, until)

    def outcome_rows(self, since: float, until: float) -> Iterator[list[list[Any]]]:
        return self._read("outcomes", since, until)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (a run's own prefix: simulations, benchmarks), never a flush."""
    r = redis.Redis.from_url(url)
    try:
        batch: list[Any] = []
        for key in r.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                r.delete(*batch)
                batch.clear()
        if batch:
            r.delete(*batch)
    finally:
        r.close()
