"""ESC/POS receipt printer: protocol (pure encoder pieces), decoder (the simulator's reading of
the wire), connector (python-escpos on our port), driver, entry (its registry entry), simulator.
Import the submodules you need; this package imports nothing by itself."""
