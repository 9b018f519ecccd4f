"""The reference central billing server: docs/billing-api.yaml implemented over its own SQLite
ledger, for the demo, the tests and a utility reading the contract.

It shares no code with the kiosk (a real utility shares only the contract) except
``offline_queue.signing``, the RFC 9421 request signatures both ends of the contract speak.
``server`` (HTTP), ``routes`` (request → response), ``contract`` (request checks), ``auth``
(who signed), ``receipts`` (signed receipts), ``ledger`` (storage, idempotency), ``faults``
(misbehaving on purpose), ``seed`` (demo accounts), ``cli`` (the ``billing-server`` command).
"""
