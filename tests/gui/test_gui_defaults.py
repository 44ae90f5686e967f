"""One number of results everywhere: the window, `lookalike search` and the library's own default."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from retrieval_app.cli.main import build_parser
from retrieval_app.core.library import DEFAULT_K, Library
from retrieval_app.gui.settings import AppSettings


def test_the_window_the_cli_and_the_library_share_one_default_k(tmp_path):
    fresh = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert fresh.k == DEFAULT_K
    assert build_parser().parse_args(["search", "photo.jpg"]).k == DEFAULT_K
    assert Library.search.__defaults__[0] == DEFAULT_K
