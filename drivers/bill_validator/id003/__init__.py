"""JCM ID-003 bill validator: protocol (pure framing), link and driver, entry (its registry
entry), simulator.  Import the submodules you need; this package imports nothing by itself."""
