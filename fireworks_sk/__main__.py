"""``python -m fireworks_sk``: the fireworks-sk command."""

import sys

from fireworks_sk.cli import main

sys.exit(main())
