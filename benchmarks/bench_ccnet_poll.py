"""Benchmark: CashCode CCNET poll period against the configured interval, and the latency from
BILL STACKED (0x81) becoming available in the simulator to NoteCredited reaching the post
callable (and from ``stack()`` to it) -- benchmarks/validator_poll.py does the measuring.

``python -m benchmarks.bench_ccnet_poll [--seconds 6] [--interval 0.1] [--load N]`` prints JSON.
The simulator has BILL STACKED ready right after it answers STACKING, so, as for ID-003, the
credit latency is one poll period at best (ratio near 1.0).
"""

from __future__ import annotations

from benchmarks.validator_poll import Timing, main_for

TIMING = Timing("ccnet", poll_method="_report_state", safe_stage="stacked")


def main(argv: list[str] | None = None) -> int:
    return main_for(TIMING, argv)


if __name__ == "__main__":
    raise SystemExit(main())
