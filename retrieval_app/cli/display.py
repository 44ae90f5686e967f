"""How file names are shown to people: bytes that are not UTF-8 appear as `\\xNN`, never as an error.

On Linux a file name is any bytes; Python hands undecodable ones over as surrogate escapes
(`os.fsdecode`), which a strict UTF-8 terminal refuses. Machine-readable output (JSON, the export
manifests) keeps the name losslessly instead.
"""

from __future__ import annotations

import os


def shown(name: str | bytes | os.PathLike) -> str:
    """`name` as printable text: its bytes decoded as UTF-8, undecodable ones as `\\xNN` escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
