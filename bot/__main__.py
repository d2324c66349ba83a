"""`python -m bot` runs the `newsbot` command line."""

import sys

from bot.cli import main

sys.exit(main())
