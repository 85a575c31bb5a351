"""The item-item source kept with the user between events.

A user's item-item candidates depend only on their state (batch history, session items, what they
have seen), not on the request, yet computing them is the largest part of retrieval. So they are
computed once per state: on /events, or by the first request after the state changed, then written
with the user and fetched with the user in the same round trip. A stored list is used only while its
key matches: the key digests the collaborative model, the list's length and every input of the source,
so a stale, foreign or truncated blob is recomputed, never used.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from cascade.features.collab import CollabModel
from cascade.types import UserView

I64 = npt.NDArray[np.int64]
KEY_BYTES = 16


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
    h.update(n.to_bytes(4, "little"))
    h.update(np.asarray(user.history, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.asarray(user.session_items, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.sort(np.asarray(excluded, dtype=np.int64)).tobytes())
    return h.digest()


def encode(key: bytes, rows: I64) -> bytes:
    return key + np.asarray(rows, dtype="<i4").tobytes()


def decode(blob: bytes | None, key: bytes) -> I64 | None:
    """The stored collab rows if `blob` was written under `key`; else None."""
    if blob is None or len(blob) < KEY_BYTES or blob[:KEY_BYTES] != key or (len(blob) - KEY_BYTES) % 4:
        return None
    return np.frombuffer(blob, dtype="<i4", offset=KEY_BYTES).astype(np.int64)
