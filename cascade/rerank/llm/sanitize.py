"""Untrusted text (titles, playlist titles) made safe to quote inside a prompt as data."""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = re.compile(r"<\|[^<>]{0,40}\|>|</?s>|\[/?INST\]", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
QUOTE = '"'


def clean_text(value: object, max_chars: int = 80) -> str:
    """Strip control/format characters and chat-template markers, neutralise quotes, collapse, truncate."""
    text = str(value)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = _SPECIAL.sub(" ", text)
    text = text.replace(QUOTE, "'").replace("`", "'")
    text = _SPACE.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[: max(1, max_chars - 1)].rstrip() + "…"
    return text
