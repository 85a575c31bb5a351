"""Builds the ranker's (n, len(RANKER_FEATURES)) matrix; training and serving both call this."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from cascade.features.registry import (
    COLLAB,
    CONTEXT,
    CROSS,
    DEVICES,
    ITEM_BATCH,
    RANKER_FEATURES,
    SESSION,
    TITLE,
    USER_BATCH,
    defaults,
    index,
)

F32 = npt.NDArray[np.float32]
_U_YEAR, _U_POP = index(USER_BATCH, "user_mean_item_year"), index(USER_BATCH, "user_mean_item_pop")
_U_GENRE = index(USER_BATCH, "user_genre_unknown")
_I_POP, _I_YEAR = index(ITEM_BATCH, "item_log_pop"), index(ITEM_BATCH, "item_year")
_I_GENRE = index(ITEM_BATCH, "item_genre_unknown")
_S_LAST_GENRE = index(SESSION, "sess_last_genre")
USER_DEFAULTS: F32 = np.asarray(defaults(USER_BATCH), dtype=np.float32)
COLLAB_DEFAULTS: F32 = np.asarray(defaults(COLLAB), dtype=np.float32)
TITLE_DEFAULTS: F32 = np.asarray(defaults(TITLE), dtype=np.float32)


def context_features(timestamp: float, device: str | None) -> F32:
    """The CONTEXT block: hour and weekday (UTC) of the request, and the device code."""
    t = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    code = DEVICES.index(device) if device in DEVICES else 0
    return np.asarray([t.hour, t.weekday(), code], dtype=np.float32)


def assemble(
    user: F32,
    session: F32,
    session_genres: F32,
    items: F32,
    tt_score: F32,
    tt_rank: F32,
    context: F32,
    collab: F32 | None = None,
    title: F32 | None = None,
) -> F32:
    """user (U,), session (S,), session_genres (G,) genre shares of recent items, items (n, I).

    collab: the (n, len(COLLAB)) collaborative block (cascade.retrieval.blend), defaults when None.
    title: the (n, len(TITLE)) playlist-title block (cascade.retrieval.title_source), defaults when None.
    """
    n = items.shape[0]
    u_genre = user[_U_GENRE:]
    i_genre = items[:, _I_GENRE:]
    n_genres = np.maximum(i_genre.sum(axis=1), 1.0)
    year = items[:, _I_YEAR]
    last = int(session[_S_LAST_GENRE])
    out = np.empty((n, len(RANKER_FEATURES)), dtype=np.float32)
    c = 0
    for block in (user, items, session):
        w = block.shape[-1]
        out[:, c : c + w] = block
        c += w
    out[:, c] = (i_genre @ u_genre) / n_genres
    out[:, c + 1] = np.where(year > 0, np.abs(user[_U_YEAR] - year), -1.0)
    out[:, c + 2] = items[:, _I_POP] - user[_U_POP]
    out[:, c + 3] = i_genre[:, last] if last >= 0 else 0.0
    out[:, c + 4] = (i_genre @ session_genres) / n_genres
    out[:, c + 5] = tt_score
    out[:, c + 6] = tt_rank
    c += len(CROSS)
    out[:, c : c + len(CONTEXT)] = context
    c += len(CONTEXT)
    out[:, c : c + len(COLLAB)] = COLLAB_DEFAULTS if collab is None else collab
    c += len(COLLAB)
    out[:, c:] = TITLE_DEFAULTS if title is None else title
    return out
