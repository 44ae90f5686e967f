"""Progress sentences say what is being counted: images while embedding, steps while tuning."""

from __future__ import annotations

import numpy as np

from retrieval_app.core.ef_tuning import tune_ef
from retrieval_app.core.progress import Progress
from retrieval_app.core.vector_index import HnswIndex
from retrieval_app.gui.formatting import describe_progress
from tests.vectors import unit_vectors


def test_the_rate_is_in_the_reports_unit():
    assert describe_progress(Progress("embedding", 3, 9, rate=2.5)) == "3 of 9 · 2.5 images/s"
    assert describe_progress(Progress("tuning search", 3, 9, rate=2.5, unit="step")) == "3 of 9 · 2.5 steps/s"
    assert describe_progress(Progress("training", 3, 9, rate=2.5, unit="batch")) == "3 of 9 · 2.5 batches/s"


def test_tuning_the_search_is_described_in_steps_not_images():
    rng = np.random.default_rng(0)
    data = unit_vectors(rng, 400, 8)
    index = HnswIndex(8, capacity=400)
    index.add(np.arange(400, dtype=np.int64), data)
    reports: list[Progress] = []
    tune_ef(index, k=10, progress=reports.append)
    rated = [describe_progress(report) for report in reports if report.rate]
    assert rated and all("steps/s" in text and "images" not in text for text in rated)
