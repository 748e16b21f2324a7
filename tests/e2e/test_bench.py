import torch

from ticketlab.bench import crossover, format_bench, format_crossover, run_bench
from ticketlab.data.datasets import Dataset


def test_bench_measures_every_cohort_density_and_the_baseline(mnist_small: Dataset) -> None:
    result = run_bench(
        mnist_small, torch.device("cpu"), cohorts=[1, 2], densities=[1.0, 0.1], steps=2
    )
    rows = result["rows"]
    assert [(r["method"], r["cohort"], r["density"]) for r in rows] == [
        ("ticketlab", 1, 1.0),
        ("ticketlab", 1, 0.1),
        ("ticketlab", 2, 1.0),
        ("ticketlab", 2, 0.1),
        ("baseline", 1, 1.0),
        ("baseline", 1, 0.1),
    ]
    assert result["matmul_peak_gflops"] > 0
    assert result["flop_per_example_step"] == 3 * 2 * (784 * 300 + 300 * 100 + 100 * 10)
    for r in rows:
        assert r["ms_per_step"] > 0 and r["model_epochs_per_s"] > 0
        if r["density"] == 1.0:
            assert r["cost_vs_dense"] == 1.0
    text = format_bench(result)
    assert "x the baseline's model-epochs/s" in text and "whatever the density" in text


def test_crossover_times_both_kernels_for_both_layer_kinds() -> None:
    rows = crossover(torch.device("cpu"), cohort=2, densities=[0.5, 0.05], batch=16)
    assert [(r.layer, r.density) for r in rows] == [
        ("input", 0.5),
        ("input", 0.05),
        ("hidden", 0.5),
        ("hidden", 0.05),
    ]
    assert all(r.dense_ms > 0 and r.sparse_ms > 0 for r in rows)
    text = format_crossover([r.__dict__ for r in rows], "cpu", 2)
    assert "in use on cpu: sparse at or below" in text


def test_bench_times_score_training_against_dense_weight_training(mnist_small: Dataset) -> None:
    result = run_bench(
        mnist_small,
        torch.device("cpu"),
        cohorts=[2],
        densities=[1.0, 0.3],
        steps=2,
        baseline=False,
        scores=True,
    )
    rows = result["scores"]
    assert [(r["method"], r["cohort"], r["keep"]) for r in rows] == [
        ("edgepopup", 2, 0.3),
        ("biprop", 2, 0.3),
    ]
    for r in rows:
        assert r["ratio"] == r["ms_per_step"] / r["dense_ms_per_step"] and r["top_k_ms"] > 0
    assert "top-k share" in format_bench(result)
