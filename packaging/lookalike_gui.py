"""PyInstaller entry script for the bundled desktop app: runs `retrieval_app.gui.app:main`."""

from __future__ import annotations

import sys

from retrieval_app.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
