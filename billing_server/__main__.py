"""``python -m billing_server``: the same as the ``billing-server`` command."""

import sys

from billing_server.cli import main

sys.exit(main())
