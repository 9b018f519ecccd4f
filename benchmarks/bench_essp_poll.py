"""Benchmark: ITL eSSP (encrypted) poll period against the configured interval, and the latency
from NOTE CREDIT (0xEE) in the simulator to NoteCredited reaching the post callable (and from
``stack()`` to it) -- benchmarks/validator_poll.py does the measuring.

``python -m benchmarks.bench_essp_poll [--seconds 6] [--interval 0.1] [--load N]`` prints JSON.
An SSP unit puts the credit in the answer to the very poll that finds it, so the credit latency
here is the wire, the AES decryption and the driver (a ratio well below 1.0); the stack → credit
latency holds the poll periods the note takes to reach the cash box.
"""

from __future__ import annotations

from benchmarks.validator_poll import Timing, main_for

TIMING = Timing("essp", poll_method="_poll_with_ack", safe_stage="credit")


def main(argv: list[str] | None = None) -> int:
    return main_for(TIMING, argv)


if __name__ == "__main__":
    raise SystemExit(main())
