"""Run `care serve` in a subprocess on a free loopback port (tests and `care bench service`)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence

from cascade.process import ManagedServer


class ServerProcess(ManagedServer):
    """`python -m service.cli serve` on 127.0.0.1:<free port> plus `args`, with CARE_* settings from `env`.

    One worker unless `args` name `--workers`: with several, the readiness this class awaits is one
    worker's, and the caller's next request may reach another that is still loading.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        start_timeout_s: float = 180.0,
        wait_ready: bool = True,
        args: Sequence[str] = (),
    ) -> None:
        serve = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
        if "--workers" not in args:
            args = [*args, "--workers", "1"]
        super().__init__(
            lambda port: [*serve, "--port", str(port), *args],
            "/readyz" if wait_ready else "/livez",
            env=env,
            start_timeout_s=start_timeout_s,
            stop_signal=signal.SIGINT,
            stop_timeout_s=15.0,
            name="care-serve",
        )
