"""Back online at once: a health probe (docs/billing-api.yaml /v1/health) closes the circuit the
moment the reference server answers again, instead of waiting out the cooldown, and the
background loop probes only while the terminal believes itself offline."""

from __future__ import annotations

import threading

from offline_queue.sync import Circuit, SyncResult, run_forever
from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.offline_queue.test_sync import queue_payments, worker_for


def test_an_answering_health_probe_closes_the_circuit(journal, outbox, billing_server):
    queue_payments(journal, 3)
    worker = worker_for(outbox, billing_server.url, circuit=Circuit(threshold=1, cooldown_s=600))
    billing_server.set_fault("reset", paths="/v1")  # the network is down, health too
    assert worker.run_once().circuit_open
    assert not worker.probe()
    assert worker.run_once().circuit_open  # still down: the circuit holds for its cooldown
    billing_server.set_fault("none")
    assert worker.run_once().circuit_open  # without a probe, 600 s of waiting
    assert worker.probe()
    result = worker.run_once(ignore_backoff=True)
    assert not result.circuit_open and result.delivered == 3


def test_the_loop_probes_only_while_offline_and_reports_the_answer(journal, outbox, billing_server):
    worker = worker_for(outbox, billing_server.url)
    for believed_offline, want in ((False, None), (True, True)):
        stop, seen = threading.Event(), []

        def on_pass(result: SyncResult) -> None:
            seen.append(result)
            stop.set()  # one pass is enough

        run_forever(worker, stop, 0.01, on_pass, offline=lambda: believed_offline)
        assert [r.reachable for r in seen] == [want]
        assert seen[0].news is (want is not None)
    billing_server.set_fault("reset", paths="/v1")
    stop, seen = threading.Event(), []
    run_forever(worker, stop, 0.01, lambda r: (seen.append(r), stop.set()), offline=lambda: True)
    assert seen[0].reachable is False
