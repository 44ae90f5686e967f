"""The packaged app's smoke mode: indexes the samples and answers a query, or fails fast and says why."""

from __future__ import annotations

import time

from retrieval_app.gui.smoke import smoke_in


def test_smoke_mode_indexes_the_samples_and_answers_a_query(qapp, tmp_path, tiny_checkpoint, capsys):
    assert smoke_in(tmp_path, str(tiny_checkpoint)) == 0
    out = capsys.readouterr().out
    assert "indexed in" in out and "query answered in" in out and out.rstrip().endswith("smoke test: ok")


def test_smoke_mode_fails_fast_when_the_model_cannot_load(qapp, tmp_path, capsys):
    started = time.perf_counter()
    assert smoke_in(tmp_path, str(tmp_path / "missing.safetensors")) == 1
    assert time.perf_counter() - started < 60
    err = capsys.readouterr().err
    assert "smoke test: failed:" in err and "missing.safetensors" in err
