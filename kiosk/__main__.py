"""``python -m kiosk`` and the ``kiosk`` console script: the command line is kiosk/cli/."""

import sys

from kiosk.cli import main

if __name__ == "__main__":
    sys.exit(main())
