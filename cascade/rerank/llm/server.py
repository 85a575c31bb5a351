"""llama-cpp-python's OpenAI-compatible server, run with the safe CPU settings, and a local launcher.

`python -m cascade.rerank.llm.server --model X --port N` is `python -m llama_cpp.server` with
llamacpp_compat applied first (same app, same arguments). LocalServer starts one on a free loopback
port (cascade.process) and waits until it answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cascade.process import ManagedServer


class LocalServer(ManagedServer):
    """A llama.cpp OpenAI-compatible server subprocess on 127.0.0.1, for tests and benchmarks."""

    def __init__(self, model: Path, *, n_ctx: int = 4096, n_threads: int = 2, start_timeout_s: float = 60.0):
        self.model, self.n_ctx, self.n_threads = model, n_ctx, n_threads
        super().__init__(
            lambda port: [
                *(sys.executable, "-m", "cascade.rerank.llm.server", "--model", str(model)),
                *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)),
                *("--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)),
                *("--flash_attn", "true", "--verbose", "false"),
            ],
            "/v1/models",
            start_timeout_s=start_timeout_s,
            name="llama-server",
        )

    @property
    def base_url(self) -> str:
        """The server's OpenAI API root (…/v1)."""
        return f"{self.url}/v1"


def main() -> None:
    """Run llama_cpp.server's CLI with the safe CPU settings applied."""
    from cascade.rerank.llm import llamacpp_compat

    llamacpp_compat.apply()
    from llama_cpp.server.__main__ import main as server_main

    server_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
