"""Benchmark: ID-003 poll period against the configured interval, and the latency from VEND
VALID becoming available in the simulator to NoteCredited reaching the post callable (and from
``stack()`` to it) -- benchmarks/validator_poll.py does the measuring.

``python -m benchmarks.bench_id003_poll [--seconds 6] [--interval 0.1] [--load N]`` prints JSON.
The simulator makes VEND VALID available right after it answers STACKING, so the credit latency
is one poll period at best: a ratio near 1.0 means no time is lost between the wire and post.
"""

from __future__ import annotations

from benchmarks.validator_poll import Timing, main_for

TIMING = Timing("id003", poll_method="_report_status", safe_stage="vend_valid")


def main(argv: list[str] | None = None) -> int:
    return main_for(TIMING, argv)


if __name__ == "__main__":
    raise SystemExit(main())
