"""Candidate label schemes: short strings that must each be one token in the model's tokenizer."""

from __future__ import annotations

import string
from typing import Literal

LabelScheme = Literal["upper", "letters", "digits", "numbers"]

_SCHEMES: dict[str, tuple[str, ...]] = {
    "upper": tuple(string.ascii_uppercase),
    "letters": tuple(string.ascii_uppercase + string.ascii_lowercase),
    "digits": tuple(string.digits),
    "numbers": tuple(str(i) for i in range(1, 53)),  # rank_llm style; "10" and up are two tokens in many BPEs
}


def labels_for(scheme: LabelScheme, n: int) -> tuple[str, ...]:
    """The first `n` labels of a scheme; ValueError if the scheme has fewer."""
    labels = _SCHEMES[scheme]
    if n > len(labels):
        raise ValueError(f"label scheme {scheme!r} has {len(labels)} labels, {n} needed")
    return labels[:n]


def label_variants(label: str) -> tuple[str, str]:
    """The forms a label takes as a generated token: bare (first position) and space-prefixed."""
    return (label, " " + label)
