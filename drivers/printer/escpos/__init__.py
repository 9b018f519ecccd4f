"""ESC/POS receipt printer: protocol (pure), connector (python-escpos on our port), driver and
simulator.  Import the submodules you need; this package imports nothing by itself."""
