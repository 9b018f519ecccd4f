import sys

from payment_gateway.cli import main

sys.exit(main())
