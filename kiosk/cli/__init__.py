"""The ``kiosk`` command line: ``main`` builds the parser and dispatches (kiosk/cli/main.py);
one module per command group; configuration loading in kiosk/cli/config_args.py."""

from kiosk.cli.main import main

__all__ = ["main"]
