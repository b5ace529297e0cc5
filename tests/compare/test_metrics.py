"""PMO metrics on small hand-checked examples."""

from __future__ import annotations

import pytest

from molgym.metrics import (
    auc_top_k,
    diversity,
    filter_pass_rate,
    mean_top_k,
    run_metrics,
    top_k_curve,
    validity_uniqueness_novelty,
)


def test_auc_of_a_constant_run_over_the_whole_budget():
    # top-1 curve is 1 at 100, 200, 300 calls; trapezoids from (0, 0): 50 + 100 + 100 = 250
    assert auc_top_k([1.0] * 300, k=1, budget=300) == pytest.approx(250 / 300)


def test_auc_pads_an_early_stop_with_the_last_value():
    # 150 calls of 0.5: 100 * 0.25 + 50 * 0.5 = 50, then 150 more calls at 0.5 = 75 -> 125 / 300
    assert auc_top_k([0.5] * 150, k=1, budget=300) == pytest.approx(125 / 300)


def test_auc_top10_of_rising_scores():
    scores = [i / 200 for i in range(1, 201)]
    # top-10 mean: (91..100)/200 = 0.4775 at 100 calls, (191..200)/200 = 0.9775 at 200 calls
    calls, values = top_k_curve(scores, 10)
    assert calls.tolist() == [100, 200] and values == pytest.approx([0.4775, 0.9775])
    expected = (100 * 0.4775 / 2 + 100 * (0.4775 + 0.9775) / 2) / 200
    assert auc_top_k(scores, 10, budget=200) == pytest.approx(expected)


def test_auc_ignores_calls_past_the_budget_and_handles_no_calls():
    assert auc_top_k([1.0] * 100 + [5.0] * 100, k=1, budget=100) == pytest.approx(0.5)
    assert auc_top_k([], k=10, budget=100) == 0.0


def test_mean_top_k_with_fewer_scores_than_k():
    assert mean_top_k([0.2, 0.9, 0.5], 2) == pytest.approx(0.7)
    assert mean_top_k([0.2, 0.9, 0.5], 10) == pytest.approx(1.6 / 3)


def test_diversity():
    assert diversity(["CCO", "OCC"]) == pytest.approx(0.0)  # the same molecule twice
    assert diversity(["C", "O"]) == pytest.approx(1.0)  # no fingerprint bit in common
    assert diversity(["CCO"]) == 0.0


def test_validity_uniqueness_novelty():
    out = validity_uniqueness_novelty(["CCO", "OCC", "not a molecule", "c1ccccc1"], training={"CCO"})
    assert out == pytest.approx({"validity": 0.75, "uniqueness": 2 / 3, "novelty": 0.5})


def test_filter_catalog_pass_rates():
    assert filter_pass_rate(["CCOOCC", "CCO"], "ZINC") == 0.5  # a peroxide fails the ZINC filters
    assert filter_pass_rate(["S=C1SC(=Cc2ccccc2)C(=O)N1", "CCO"], "PAINS") == 0.5  # an ene-rhodanine


def test_run_metrics_from_an_oracle_log():
    log = [(1, "CCO", 0.4), (2, "c1ccccc1", 0.44), (3, "CC(=O)O", 0.43)]
    out = run_metrics(log, budget=10, proposed=["CCO", "CCO"], training=set())
    assert out["calls"] == 3 and out["top1"] == pytest.approx(0.44)
    assert out["top10"] == pytest.approx((0.4 + 0.44 + 0.43) / 3)
    assert out["auc_top1"] == pytest.approx((3 * 0.44 / 2 + 7 * 0.44) / 10)
    assert out["uniqueness"] == 0.5 and out["novelty"] == 1.0
