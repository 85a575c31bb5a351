"""llama-cpp-python's OpenAI-compatible server, run with the safe CPU settings, and a local launcher.

`python -m cascade.rerank.llm.server --model X --port N` is `python -m llama_cpp.server` with
llamacpp_compat applied first (same app, same arguments). LocalServer starts one on a free loopback
port and waits until it answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from cascade.ports import free_port


class LocalServer:
    """A llama.cpp OpenAI-compatible server subprocess on 127.0.0.1, for tests and benchmarks."""

    def __init__(self, model: Path, *, n_ctx: int = 4096, n_threads: int = 2, start_timeout_s: float = 60.0):
        self.model = model
        self.port = free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile(prefix="care-llama-server-")  # noqa: SIM115 - lives with the server

    @property
    def base_url(self) -> str:
        """The server's OpenAI API root (…/v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalServer:
        """Start the subprocess and block until /v1/models answers."""
        cmd = [
            sys.executable, "-m", "cascade.rerank.llm.server",
            "--model", str(self.model), "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads), "--flash_attn", "true", "--verbose", "false",
        ]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log, env=dict(os.environ))
        end = time.monotonic() + self.start_timeout_s
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise RuntimeError(f"llama.cpp server exited with {self._proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not answer within {self.start_timeout_s}s")

    def stop(self) -> None:
        """Terminate the subprocess (kill after 10 s)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    """Run llama_cpp.server's CLI with the safe CPU settings applied."""
    from cascade.rerank.llm import llamacpp_compat

    llamacpp_compat.apply()
    from llama_cpp.server.__main__ import main as server_main

    server_main()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
