"""One service worker with the deliberately reversed arm registered (eval/ab/reversed.py).

`care ab simulate --aa` starts it on a loopback port as its known-bad arm; `care serve` never loads it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from eval.ab.reversed import registered


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m service.bench.reversed_server --host H --port P`: one worker, the bad kind registered."""
    from service.main import serve

    parser = argparse.ArgumentParser(prog="python -m service.bench.reversed_server", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with registered():
        serve(host=args.host, port=args.port, workers=1)


if __name__ == "__main__":
    main()
