"""Demo pieces: the reference billing server (HTTP + SQLite ledger), seed data, fault knobs."""
