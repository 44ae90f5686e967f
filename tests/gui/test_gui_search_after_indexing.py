"""The search on screen is redone when indexing ends; a query file indexed meanwhile stays out of it."""

from __future__ import annotations

from retrieval_app.core.library import DEFAULT_K
from tests.gui.conftest import JOB_TIMEOUT_MS, index_folders
from tests.gui.test_gui_search import SEARCH_TIMEOUT_MS, drop, shown_results
from tests.imagegen import write_collection


def test_a_query_file_indexed_after_the_search_is_not_its_own_result(qtbot, window, photos, tmp_path):
    index_folders(qtbot, window, next(iter(photos.values()))[0].parent)
    later = write_collection(tmp_path / "later", originals=2, variants=("resized",), seed=7)
    query, its_copy = later["scene01"]
    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=SEARCH_TIMEOUT_MS):
        drop(window, query)
    assert str(query) not in [path for path, _ in shown_results(window)]

    with qtbot.waitSignal(window.controller.search.resultsChanged, timeout=JOB_TIMEOUT_MS):
        index_folders(qtbot, window, query.parent)  # the query's own folder: it is in the library now
    results = shown_results(window)
    assert str(query) not in [path for path, _ in results]
    assert results[0][0] == str(its_copy)  # the search was redone: the new images are found
    assert len(results) == min(DEFAULT_K, 12 + 4 - 1)
