"""The reference payment gateway: docs/payment-gateway.yaml over its own SQLite store. In the
field this is another company's system (a wallet provider's acquiring gateway); here it is a
small server tests and the demo run, with fault modes (payment_gateway/faults.py). It shares
only the signing protocol with the kiosk (offline_queue.signing, RFC 9421)."""
