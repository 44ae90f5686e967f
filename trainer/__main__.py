"""`python -m trainer ...` runs the same subcommands as `lookalike train|evaluate`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
