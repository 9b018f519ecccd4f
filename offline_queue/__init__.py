"""The terminal's durable memory: an append-only journal and an outbox delivered exactly once."""
