"""Lookalike's desktop app: a thin PySide6 layer over `retrieval_app.core` (models, views, background tasks)."""

import time

IMPORTED_AT = time.perf_counter()
"""When the GUI package was first imported: the smoke test reports start-up time from here."""
