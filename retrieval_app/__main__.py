"""`python -m retrieval_app` opens the desktop app."""

from __future__ import annotations

import sys

from retrieval_app.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
