"""Staff modes: PIN access with roles, the hash-chained audit log, diagnostics, locking
faults, cash collection and the daily report. Pure logic and small service objects; no Kivy."""
