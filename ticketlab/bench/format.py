"""The bench's tables as text."""

from __future__ import annotations

from typing import Any

import torch

from ticketlab.bench.conv import CONV_SETTING
from ticketlab.device import SPARSE_BELOW


def format_crossover(rows: list[dict[str, Any]], device: str, cohort: int) -> str:
    kind = torch.device(device).type
    lines = [
        f"dense masked vs block-sparse, one layer, cohort {cohort}, batch 128 "
        "(forward + backward + Adam step)",
        f"{'layer':<7} {'density':>8} {'dense ms':>9} {'sparse ms':>10} {'sparse/dense':>13}",
    ]
    for r in rows:
        assert isinstance(r["dense_ms"], float) and isinstance(r["sparse_ms"], float)
        lines.append(
            f"{r['layer']:<7} {r['density'] * 100:>7.1f}% {r['dense_ms']:>9.2f} "
            f"{r['sparse_ms']:>10.2f} {r['sparse_ms'] / r['dense_ms']:>13.2f}"
        )
    below = SPARSE_BELOW.get(kind)
    lines.append("")
    lines.append(
        f"in use on {kind}: sparse at or below {below[0]:.0%} (input layer), "
        f"{below[1]:.0%} (hidden layers)"
        if below
        else f"in use on {kind}: dense only (no crossover measured for this device yet)"
    )
    return "\n".join(lines)


def format_bench(result: dict[str, Any]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    bf16_peak = result.get("matmul_peak_bf16_gflops")
    lines = [
        f"device {result['device']} ({result['threads']} threads); fp32 matmul peak "
        f"{result['matmul_peak_gflops']:.0f} GFLOP/s"
        + (f", bf16 {bf16_peak:.0f} GFLOP/s" if bf16_peak else ""),
        f"FLOPs: {result['flop_note']} = {result['flop_per_example_step']:,} per example; "
        f"batch {result['batch_size']}, epoch = {result['train_examples']:,} examples",
        "",
        f"{'method':<10} {'cohort':>6} {'density':>8} {'ms/step':>9} {'model-ep/s':>11} "
        f"{'GFLOP/s':>8} {'of peak':>8} {'vs dense':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['method']:<10} {r['cohort']:>6} {r['density'] * 100:>7.0f}% "
            f"{r['ms_per_step']:>9.2f} {r['model_epochs_per_s']:>11.2f} {r['gflops']:>8.1f} "
            f"{r['peak_fraction'] * 100:>7.0f}% {r['cost_vs_dense'] * 100:>8.0f}%"
        )
    base = [r for r in rows if r["method"] == "baseline" and r["density"] == 1.0]
    ours = [r for r in rows if r["method"] == "ticketlab" and r["density"] == 1.0]
    if base and ours:
        lines.append("")
        for r in ours:
            speedup = r["model_epochs_per_s"] / base[0]["model_epochs_per_s"]
            lines.append(
                f"cohort {r['cohort']:>3}, dense: {speedup:.1f}x "
                f"the baseline's model-epochs/s, {r['peak_fraction'] * 100:.0f}% of matmul peak"
            )
    scores = result.get("scores")
    if scores:
        lines += [
            "",
            "score training (weights frozen) vs dense weight training of the same cohort, "
            "sparse paths off; top-k: every tensor's full selection once (an upper bound: "
            "training first searches a band around the last step's threshold)",
            f"{'method':<10} {'cohort':>6} {'keep':>6} {'ms/step':>9} {'dense ms':>9} "
            f"{'ratio':>6} {'top-k ms':>9} {'top-k share':>12}",
        ]
        for r in scores:
            lines.append(
                f"{r['method']:<10} {r['cohort']:>6} {r['keep'] * 100:>5.0f}% "
                f"{r['ms_per_step']:>9.2f} {r['dense_ms_per_step']:>9.2f} {r['ratio']:>6.2f} "
                f"{r['top_k_ms']:>9.2f} {r['top_k_ms'] / r['ms_per_step'] * 100:>11.0f}%"
            )
    conv = result.get("conv")
    if conv:
        assert isinstance(conv, list)
        lines += ["", format_conv(conv)]
    cross = result.get("crossover")
    if cross:
        assert isinstance(cross, list)
        lines += [
            "",
            format_crossover(cross, str(result["device"]), int(result["crossover_cohort"])),
        ]
    return "\n".join(lines)


def format_conv(rows: list[dict[str, Any]]) -> str:
    lines = [
        "conv nets: SGD with momentum and weight decay, crop-and-flip augmentation, batch "
        f"{CONV_SETTING.batch_size}; baseline: one network, DataLoader with 2 workers",
        f"{'model':<9} {'method':<10} {'cohort':>6} {'ms/step':>9} {'model-ep/s':>11} "
        f"{'vs baseline':>12}",
    ]
    base = {r["model"]: r["model_epochs_per_s"] for r in rows if r["method"] == "baseline"}
    for r in rows:
        ratio = r["model_epochs_per_s"] / base[r["model"]]
        lines.append(
            f"{r['model']:<9} {r['method']:<10} {r['cohort']:>6} {r['ms_per_step']:>9.1f} "
            f"{r['model_epochs_per_s']:>11.3f} {ratio:>11.2f}x"
        )
    return "\n".join(lines)
