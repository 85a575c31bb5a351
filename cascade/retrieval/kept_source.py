"""The item-item source and the user's collaborative signals, kept with the user between events.

A user's item-item candidates and collaborative signals (cascade.features.collab.UserSignals: the
newest items' rows, the EASE user factor, the genre recencies) depend only on their state (batch
history, session items, what they have seen), not on the request, yet computing them is the largest
part of retrieval. So they are computed once per state: on /events, or by the first request after the
state changed, then written with the user and fetched with the user in the same round trip. A stored
blob is used only while its key matches: the key digests the blob's format, the collaborative model,
the list's length and every input of the source and the signals, so a stale, foreign, older-format or
truncated blob is recomputed, never used. Values round-trip bit for bit (int32 rows, float32 signals).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from cascade.features.collab import CollabModel, UserSignals
from cascade.types import UserView

I64 = npt.NDArray[np.int64]
KEY_BYTES = 16
FORMAT = b"kept/2"  # in every key: blobs of another layout (the rows alone, before) never match
_INTS = ("recent", "pool_from", "seen")  # UserSignals' int arrays, then its float32 ones
_FLOATS = ("user_factor", "genre_recency", "recent_genres")
_HEAD = 4 * (1 + len(_INTS) + len(_FLOATS))  # the arrays' lengths: the rows', then each signal's


def model_tag(collab: CollabModel) -> bytes:
    """A digest of the fitted model: lists from another model (a rollout) never match."""
    h = hashlib.blake2b(digest_size=KEY_BYTES)
    for part in (collab.ease.d, collab.ease.denom, collab.neighbours.cos.indptr, collab.item_ids):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(repr(collab.cfg).encode())
    return h.digest()


def source_key(tag: bytes, n: int, user: UserView, excluded: I64) -> bytes:
    """What the source read for this user: the model, n, history, session items and `excluded` (the
    ids of `user.excluded()`, in any order)."""
    h = hashlib.blake2b(tag, digest_size=KEY_BYTES)
    h.update(FORMAT)
    h.update(n.to_bytes(4, "little"))
    h.update(np.asarray(user.history, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.asarray(user.session_items, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.sort(np.asarray(excluded, dtype=np.int64)).tobytes())
    return h.digest()


def encode(key: bytes, rows: I64, sig: UserSignals) -> bytes:
    """The source's collab rows and the signals it was computed from, under `key`."""
    ints = [np.asarray(rows), *(getattr(sig, f) for f in _INTS)]
    floats = [getattr(sig, f) for f in _FLOATS]
    head = np.asarray([len(a) for a in (*ints, *floats)], dtype="<i4").tobytes()
    body = b"".join(np.asarray(a, dtype="<i4").tobytes() for a in ints)
    return key + head + body + b"".join(np.asarray(a, dtype="<f4").tobytes() for a in floats)


def decode(blob: bytes | None, key: bytes) -> tuple[I64, UserSignals] | None:
    """The stored collab rows and signals if `blob` was written under `key` and is whole; else None."""
    if blob is None or len(blob) < KEY_BYTES + _HEAD or blob[:KEY_BYTES] != key:
        return None
    sizes = np.frombuffer(blob, dtype="<i4", count=_HEAD // 4, offset=KEY_BYTES).tolist()
    if min(sizes) < 0 or len(blob) != KEY_BYTES + _HEAD + 4 * sum(sizes):
        return None
    at = KEY_BYTES + _HEAD
    parts: list[npt.NDArray[Any]] = []
    for i, size in enumerate(sizes):  # the rows and the int signals, then the float32 signals
        parts.append(np.frombuffer(blob, dtype="<i4" if i <= len(_INTS) else "<f4", count=size, offset=at))
        at += 4 * size
    rows, recent, pool_from, seen = (p.astype(np.int64) for p in parts[: 1 + len(_INTS)])
    user_factor, genre_recency, recent_genres = (p.astype(np.float32) for p in parts[1 + len(_INTS) :])
    sig = UserSignals(
        recent=recent, pool_from=pool_from, user_factor=user_factor, seen=seen,
        genre_recency=genre_recency, recent_genres=recent_genres,
    )  # fmt: skip
    return rows, sig
