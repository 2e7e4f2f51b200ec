"""The benchmark script runs end to end on a small synthetic KB."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "faq.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_faq", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_kb_has_unique_ids_and_phrasings() -> None:
    bench = _load()
    entries = bench.synth_kb(300, random.Random(1))
    assert len({e.id for e in entries}) == 300
    assert all(len(e.phrasings) >= 2 for e in entries)


def test_small_run_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    # Latency goals are the benchmark's own verdict on a quiet machine; a shared test runner
    # only checks that it runs and reports them.
    args = ["--entries", "300", "--queries", "100", "--baseline-queries", "20"]
    assert _load().main([*args, "--lexical", "--semantic-entries", "0"]) in (0, 1)
    out = capsys.readouterr().out
    assert "p99" in out
    assert "default configuration used the lexical matcher" in out
