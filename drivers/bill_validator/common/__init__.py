"""What the bill-validator drivers share (docs/adding-a-protocol.md, "A bill validator"): the
serial link (link), the poll-thread driver base (poll), the escrow-cycle tracker (escrow) and
the validator half of the simulators (simulator).  Each protocol's folder keeps only its own
framing, states and commands."""
