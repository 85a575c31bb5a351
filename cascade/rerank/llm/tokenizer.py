"""The model's own tokenizer (from the GGUF, vocab only) and its chat template, data kept non-special."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import jinja2
import llama_cpp

from cascade.rerank.llm.llamacpp_compat import load_llama

_SYS = "\x00CARE_SYSTEM\x00"
_USER = "\x00CARE_USER\x00"


class Tokenizer(Protocol):
    """Counts and encodes text the way the served model does."""

    def encode(self, text: str) -> list[int]: ...

    def single_token(self, text: str) -> int | None: ...

    def encode_chat(self, system: str, user: str) -> list[int]: ...


class ChatTemplate:
    """The GGUF's Jinja chat template, split around the message contents."""

    def __init__(self, template: str, bos: str = "", eos: str = ""):
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
        rendered = env.from_string(template).render(
            messages=[{"role": "system", "content": _SYS}, {"role": "user", "content": _USER}],
            add_generation_prompt=True,
            bos_token=bos,
            eos_token=eos,
        )
        head, rest = rendered.split(_SYS)
        middle, tail = rest.split(_USER)
        self.parts = (head, middle, tail)


class LlamaTokenizer:
    """Tokenizer over a llama_cpp.Llama (full or vocab-only); template markers special, data not."""

    def __init__(self, llm: llama_cpp.Llama):
        self.llm = llm
        self._lock = threading.Lock()
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError("the model has no chat template in its metadata")
        self.chat = ChatTemplate(template)

    @classmethod
    def from_gguf(cls, path: Path) -> LlamaTokenizer:
        """Load only the vocabulary of a GGUF (cheap)."""
        return cls(load_llama(path, vocab_only=True))

    def encode(self, text: str) -> list[int]:
        """Token ids of data text; special-token strings inside it stay plain text."""
        with self._lock:
            return list(self.llm.tokenize(text.encode(), add_bos=False, special=False))

    def _special(self, text: str) -> list[int]:
        with self._lock:
            return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def single_token(self, text: str) -> int | None:
        """The id if `text` is exactly one token, else None."""
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None

    def encode_chat(self, system: str, user: str) -> list[int]:
        """The full chat prompt with the generation prompt appended."""
        head, middle, tail = self.chat.parts
        return [
            *self._special(head),
            *self.encode(system),
            *self._special(middle),
            *self.encode(user),
            *self._special(tail),
        ]

    def decode(self, ids: list[int]) -> str:
        """Text of token ids."""
        with self._lock:
            return self.llm.detokenize(ids).decode(errors="replace")
