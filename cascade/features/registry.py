"""Every feature the cascade uses, defined once: training and serving read these definitions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cascade.data.dataset import GENRES

DAY = 86_400
EVENT_TYPES: tuple[str, ...] = ("view", "click", "play", "skip", "like", "dislike")
# events after which an item is never recommended to that user again
CONSUMING_EVENTS: frozenset[str] = frozenset({"play", "skip", "like", "dislike"})
DEVICES: tuple[str, ...] = ("unknown", "mobile", "desktop", "tv")


class Entity(StrEnum):
    USER = "user"
    ITEM = "item"
    USER_ITEM = "user_item"
    CONTEXT = "context"


class Source(StrEnum):
    BATCH = "batch"  # computed offline, point in time, materialized to the online store
    REALTIME = "realtime"  # written by event ingestion
    REQUEST = "request"  # derived at request time from the request and the other features


@dataclass(frozen=True)
class FeatureDef:
    name: str
    entity: Entity
    source: Source
    description: str
    dtype: str = "float32"
    default: float = 0.0  # used for cold-start users/items and missing values
    ttl_s: int | None = None  # None: valid until the next materialization
    group: str = ""  # ablation group of the collaborative block


def _genre_slug(g: str) -> str:
    return g.lower().replace("'", "").replace("-", "_")


_USER: list[FeatureDef] = [
    FeatureDef("user_log_n", Entity.USER, Source.BATCH, "log1p of the user's interactions before as-of"),
    FeatureDef("user_mean_rating", Entity.USER, Source.BATCH, "mean rating given", default=3.5),
    FeatureDef("user_rating_std", Entity.USER, Source.BATCH, "std of ratings given", default=1.0),
    FeatureDef("user_days_active", Entity.USER, Source.BATCH, "days between first event and as-of"),
    FeatureDef(
        "user_days_since_last", Entity.USER, Source.BATCH, "days between last event and as-of", default=-1.0
    ),
    FeatureDef(
        "user_mean_item_year",
        Entity.USER,
        Source.BATCH,
        "mean release year of consumed items",
        default=1990.0,
    ),
    FeatureDef("user_mean_item_pop", Entity.USER, Source.BATCH, "mean log1p popularity of consumed items"),
    FeatureDef("user_age", Entity.USER, Source.BATCH, "age in years (0 unknown)"),
    FeatureDef("user_gender_m", Entity.USER, Source.BATCH, "1 male, 0 female, 0.5 unknown", default=0.5),
    FeatureDef("user_occupation", Entity.USER, Source.BATCH, "occupation code (categorical)", default=-1.0),
] + [
    FeatureDef(
        f"user_genre_{_genre_slug(g)}", Entity.USER, Source.BATCH, f"share of the user's history in {g}"
    )
    for g in GENRES
]

_ITEM: list[FeatureDef] = [
    FeatureDef("item_log_pop", Entity.ITEM, Source.BATCH, "log1p of interactions before as-of"),
    FeatureDef(
        "item_log_pop_30d", Entity.ITEM, Source.BATCH, "log1p of interactions in the 30 days before as-of"
    ),
    FeatureDef("item_mean_rating", Entity.ITEM, Source.BATCH, "mean rating received", default=3.5),
    FeatureDef("item_like_rate", Entity.ITEM, Source.BATCH, "share of ratings >= 4", default=0.5),
    FeatureDef(
        "item_days_since_first", Entity.ITEM, Source.BATCH, "days since the first interaction", default=-1.0
    ),
    FeatureDef(
        "item_days_since_last", Entity.ITEM, Source.BATCH, "days since the last interaction", default=-1.0
    ),
    FeatureDef("item_year", Entity.ITEM, Source.BATCH, "release year (0 unknown)"),
] + [
    FeatureDef(f"item_genre_{_genre_slug(g)}", Entity.ITEM, Source.BATCH, f"1 if the item is tagged {g}")
    for g in GENRES
]

_SESSION: list[FeatureDef] = [
    FeatureDef("sess_log_n", Entity.USER, Source.REALTIME, "log1p of session events", ttl_s=DAY),
    *[
        FeatureDef(
            f"sess_n_{t}", Entity.USER, Source.REALTIME, f"count of '{t}' events in the session", ttl_s=DAY
        )
        for t in EVENT_TYPES
    ],
    FeatureDef(
        "sess_log_secs_since_last",
        Entity.USER,
        Source.REALTIME,
        "log1p seconds since the last event",
        default=-1.0,
        ttl_s=DAY,
    ),
    FeatureDef(
        "sess_last_genre",
        Entity.USER,
        Source.REALTIME,
        "primary genre code of the last item",
        default=-1.0,
        ttl_s=DAY,
    ),
]

_CROSS: list[FeatureDef] = [
    FeatureDef(
        "x_genre_affinity", Entity.USER_ITEM, Source.REQUEST, "user genre shares . item genres / n genres"
    ),
    FeatureDef("x_year_gap", Entity.USER_ITEM, Source.REQUEST, "|user mean item year - item year|"),
    FeatureDef("x_pop_gap", Entity.USER_ITEM, Source.REQUEST, "item log pop - user mean item pop"),
    FeatureDef(
        "x_sess_genre_match", Entity.USER_ITEM, Source.REQUEST, "1 if the item has the session's last genre"
    ),
    FeatureDef(
        "x_sess_genre_overlap",
        Entity.USER_ITEM,
        Source.REQUEST,
        "genre overlap with the session's recent items",
    ),
    FeatureDef("x_tt_score", Entity.USER_ITEM, Source.REQUEST, "two-tower inner product"),
    FeatureDef("x_tt_rank", Entity.USER_ITEM, Source.REQUEST, "rank in two-tower retrieval (0 best)"),
]

_CONTEXT: list[FeatureDef] = [
    FeatureDef("ctx_hour", Entity.CONTEXT, Source.REQUEST, "hour of day (UTC) of the request"),
    FeatureDef("ctx_weekday", Entity.CONTEXT, Source.REQUEST, "weekday of the request, Monday 0"),
    FeatureDef("ctx_device", Entity.CONTEXT, Source.REQUEST, "device code: unknown, mobile, desktop, tv"),
]


def _collab(name: str, group: str, description: str, default: float = 0.0) -> FeatureDef:
    return FeatureDef(name, Entity.USER_ITEM, Source.REQUEST, description, default=default, group=group)


# collaborative and sequential evidence (cascade/features/collab.py), in this order
_COLLAB: list[FeatureDef] = [
    _collab("cf_ease", "ease", "EASE score of the item given the user's history"),
    _collab("cf_ease_rank", "ease", "rank of the EASE score among the candidates (0 best)", 500.0),
    _collab("cf_knn", "knn", "recency-weighted item-kNN score over the last 20 items"),
    _collab("cf_knn_rank", "knn", "rank of the item-kNN score among the candidates (0 best)", 500.0),
    _collab("cf_cooc_log", "cooc", "sum of log1p co-occurrence counts with the last 20 items"),
    _collab("cf_cos_mean", "cooc", "mean normalized co-occurrence (cosine) with the last 20 items"),
    _collab("cf_cos_last1", "cooc", "cosine with the last item"),
    _collab("cf_cos_last3", "cooc", "mean cosine with the last 3 items"),
    _collab("cf_cos_last10", "cooc", "mean cosine with the last 10 items"),
    _collab("cf_cos_max10", "cooc", "max cosine with the last 10 items"),
    _collab("seq_genre_recency", "genre_recency", "items since the user's last item of its genres", 50.0),
    _collab("seq_genre_share10", "genre_recency", "share of the last 10 items in its genres"),
    _collab("seq_emb_last1", "embedding", "two-tower item-vector similarity with the last item"),
    _collab("seq_emb_last3", "embedding", "similarity with the mean of the last 3 items' vectors"),
    _collab("seq_emb_last10", "embedding", "similarity with the mean of the last 10 items' vectors"),
    _collab("src_two_tower", "source", "1 if the two-tower source retrieved it"),
    _collab("src_collab", "source", "1 if the item-item source retrieved it"),
    _collab("src_collab_rank", "source", "rank in the item-item source (0 best; n if absent)", 500.0),
]

# the playlist title's fit with the item (cascade/retrieval/title_source.py); all 0 without a title
_TITLE: list[FeatureDef] = [
    FeatureDef("title_present", Entity.CONTEXT, Source.REQUEST, "1 if the request carries a playlist title"),
    FeatureDef(
        "title_sim", Entity.USER_ITEM, Source.REQUEST, "MiniLM cosine of the playlist title and the item text"
    ),
    FeatureDef(
        "title_sim_gap", Entity.USER_ITEM, Source.REQUEST, "title_sim minus the candidates' best title_sim"
    ),
    FeatureDef("src_title", Entity.USER_ITEM, Source.REQUEST, "1 if the title source retrieved it"),
]

USER_BATCH: tuple[FeatureDef, ...] = tuple(_USER)
ITEM_BATCH: tuple[FeatureDef, ...] = tuple(_ITEM)
SESSION: tuple[FeatureDef, ...] = tuple(_SESSION)
CROSS: tuple[FeatureDef, ...] = tuple(_CROSS)
CONTEXT: tuple[FeatureDef, ...] = tuple(_CONTEXT)
COLLAB: tuple[FeatureDef, ...] = tuple(_COLLAB)
COLLAB_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in COLLAB))
TITLE: tuple[FeatureDef, ...] = tuple(_TITLE)
# the ranker's input columns, in order
RANKER_FEATURES: tuple[FeatureDef, ...] = USER_BATCH + ITEM_BATCH + SESSION + CROSS + CONTEXT + COLLAB + TITLE
REGISTRY: dict[str, FeatureDef] = {f.name: f for f in RANKER_FEATURES}


def names(defs: tuple[FeatureDef, ...]) -> list[str]:
    return [f.name for f in defs]


def defaults(defs: tuple[FeatureDef, ...]) -> list[float]:
    return [f.default for f in defs]


def index(defs: tuple[FeatureDef, ...], name: str) -> int:
    return names(defs).index(name)
