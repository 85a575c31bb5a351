"""Request and response models of the REST API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from cascade.data.dataset import GENRES
from cascade.features.registry import EVENT_TYPES
from cascade.types import FallbackReason

MAX_ID = 2**31 - 1
MAX_TS = 1e11  # unix seconds; far beyond any real timestamp, small enough for every datetime call


def _json_number(v: Any) -> Any:
    """Only JSON numbers: true and "14" are not numbers (the schema says so), 14.0 is an integer."""
    if isinstance(v, bool | str | bytes):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    return v


Number = BeforeValidator(_json_number)
UserId = Annotated[
    int, Field(ge=0, le=MAX_ID, description="User id; unknown ids take the cold-start path."), Number
]
ItemId = Annotated[int, Field(ge=1, le=MAX_ID, description="Item id."), Number]
Timestamp = Annotated[float, Field(ge=0, le=MAX_TS, allow_inf_nan=False, description="Unix seconds."), Number]
# The schema says what is accepted: a title holds a non-space character (stripping happens after
# validation, so a schema-valid title is never rejected for being blank once stripped).
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"\S"),
    AfterValidator(lambda s: s.strip() or s),
]
EventType = Literal["view", "click", "play", "skip", "like", "dislike"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestContext(_Strict):
    """What the caller knows about the situation of this request."""

    playlist_title: Annotated[str, StringConstraints(max_length=200)] | None = None
    device: Literal["mobile", "desktop", "tv"] | None = None
    timestamp: Timestamp | None = Field(default=None, description="Unix seconds; default now.")
    session_items: list[ItemId] = Field(default_factory=list, max_length=50, description="Newest first.")


class RecommendRequest(_Strict):
    """A recommendation request."""

    user_id: UserId
    k: Annotated[int, Number] = Field(default=10, ge=1, le=100, description="How many items to return.")
    context: RequestContext = Field(default_factory=lambda: RequestContext())
    arm: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Force this experiment arm (evaluation); default: assigned by user id."
    )


class Item(BaseModel):
    """A catalog item."""

    item_id: int
    title: str
    year: int = Field(description="Release year; 0 when unknown.")
    genres: list[str]


class ScoredItem(Item):
    score: float = Field(description="The ranker's score (the order is the re-ranker's).")


class RecommendResponse(BaseModel):
    """Recommended items, best first, and how they were produced."""

    items: list[ScoredItem]
    arm: str
    experiment: str | None
    reranker_used: str
    fallback_reason: FallbackReason | None = Field(description="Why the arm's re-ranker did not answer.")
    degraded: bool = Field(description="True when the online store was unreachable and defaults were used.")
    timings_ms: dict[str, float]
    model_version: str
    ranker_version: str
    prompt_version: str | None
    request_id: str


class EventIn(_Strict):
    """One user interaction."""

    user_id: UserId
    item_id: ItemId
    type: EventType
    timestamp: Timestamp | None = Field(default=None, description="Unix seconds; default now.")
    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = Field(
        default=None, description="The /recommend request_id that showed the item (A/B attribution)."
    )
    position: int | None = Field(default=None, ge=1, le=100, description="1-based position in that list.")


class EventBatch(_Strict):
    """Several interactions, applied in order; none is stored if one is invalid."""

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventsAccepted(BaseModel):
    """The events are stored and visible to the next /recommend."""

    stored: int


class NewItem(_Strict):
    """A new catalog item (cold start): retrievable as soon as this returns."""

    item_id: ItemId
    title: Title
    year: Annotated[int, Number] = Field(
        default=0, ge=0, le=3000, description="Release year; 0 when unknown."
    )
    genres: list[str] = Field(min_length=1, max_length=len(GENRES), description=f"Among {list(GENRES)}.")

    @field_validator("genres")
    @classmethod
    def _known_genres(cls, v: list[str]) -> list[str]:
        unknown = [g for g in v if g not in GENRES]
        if unknown:
            raise ValueError(f"unknown genres {unknown}; known: {list(GENRES)}")
        if len(set(v)) != len(v):
            raise ValueError("genres must not repeat")
        return v


class Error(BaseModel):
    """An error that is not a field validation error."""

    detail: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Any] = Field(default_factory=dict)
