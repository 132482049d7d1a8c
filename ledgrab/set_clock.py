"""`python -m ledgrab.set_clock DIR`: the privileged one-shot that answers a request to set the
clock by hand (utils/clock_request.py). Started by ledgrab-set-clock.path when the server writes
a request; runs with CAP_SYS_TIME and nothing else, so the web server itself never holds it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ledgrab.utils.clock_request import serve_request
from ledgrab.utils.system_clock import clock_synchronised

__all__ = ["main"]


def _set_realtime(seconds: float) -> None:
    time.clock_settime(time.CLOCK_REALTIME, seconds)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ledgrab.set_clock DIRECTORY", file=sys.stderr)
        return 2
    result = serve_request(Path(args[0]), set_time=_set_realtime, synchronised=clock_synchronised)
    if result is None:
        print("no request waiting")
    elif result.ok:
        print(f"clock set: {result.old_us} -> {result.new_us} (µs since 1970)")
    else:
        print(f"refused: {result.reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
