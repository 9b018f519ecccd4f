"""EM4100 / RDM6300-style card reader: protocol (pure), entry (its registry entry), driver,
simulator.  Import the submodules you need; this package imports nothing by itself."""
