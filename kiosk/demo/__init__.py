"""Demo pieces: the reference billing server (HTTP + SQLite ledger), its seed data and fault knobs."""
