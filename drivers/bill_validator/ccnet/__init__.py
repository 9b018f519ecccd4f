"""CashCode CCNET bill validator: protocol (pure framing), link, driver and simulator."""
