"""Everything that depends on the device, in one place: which device a config names, the
settings that make CUDA repeat its numbers, free memory, the per-device choices of the
trainers (when a layer goes block-sparse, how a cohort's members run), synchronisation for
timing, and what a run records about the device.

The per-device numbers come from ``ticketlab bench`` (see the performance docs); a device
type without an entry takes the safe default (dense layers, ``vmap``)."""

from __future__ import annotations

import os
from typing import Any

import torch

from ticketlab.errors import TicketlabError

DEVICES = ("auto", "cpu", "cuda")

# Densities at or below which an MLP layer trains block-sparse: (input layer, hidden layer).
# From `ticketlab bench --crossover` on a 2-core x86 CPU, re-measured on the current code
# (two runs, cohort of 16, one thread; results/performance.md): an input layer's sparse
# step took 1.18-1.30x the dense one at 30% and 0.79-0.94x at 20%; a hidden layer's
# 0.80-1.06x at 20% and 0.39-0.49x at 15%. (The first measurement, on older code, had
# set 30% and 20%.) No other device has been measured, so others train dense.
SPARSE_BELOW: dict[str, tuple[float, float]] = {"cpu": (0.2, 0.15)}
# Density at or below which evaluation takes a sparse first layer as one CSR product against
# the shared inputs. A cohort of 6 networks' 784x300 layer on a chunk of 4,096 images,
# 2-core x86 CPU: CSR/GEMM time 1.95 at 30%, 1.32 at 20%, 0.75 at 10%, 0.48 at 5%, 0.09 at
# 1% (similar at 1 thread).
SPARSE_EVAL_BELOW: dict[str, float] = {"cpu": 0.1}
# How the generic trainer runs a cohort's members: "vmap" (one grouped convolution for all)
# or "loop" (one ordinary convolution per member), from `ticketlab bench --conv`.
BATCHING: dict[str, str] = {"cpu": "loop", "cuda": "vmap"}


def resolve(name: str) -> torch.device:
    """The device ``name`` (one of ``DEVICES``) stands for; CUDA set up to repeat its
    numbers (``reproducible_cuda``)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise TicketlabError(
            "device 'cuda' was asked for but CUDA is not available here; use --device cpu (or auto)"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        reproducible_cuda()
    return device


def reproducible_cuda() -> None:
    """Same config, seeds and GPU, same numbers: cuBLAS with a fixed workspace (which must be
    set before its first call), cuDNN's deterministic algorithms without autotuning, and
    torch's deterministic variants of scatter-style kernels (``index_add_`` sums per
    member), with a warning for any op that has none. The CPU kernels are deterministic as
    they are."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device``: the GPU's free memory, or the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def sparse_threshold(device: torch.device, input_layer: bool) -> float:
    """The density at or below which an MLP layer trains sparse on ``device`` (0: never)."""
    below = SPARSE_BELOW.get(device.type)
    if below is None:
        return 0.0
    return below[0] if input_layer else below[1]


def sparse_eval_threshold(device: torch.device) -> float:
    """The density at or below which evaluation's first layer is a CSR product (0: never)."""
    return SPARSE_EVAL_BELOW.get(device.type, 0.0)


def batching(device: torch.device) -> str:
    """How the generic trainer runs a cohort's members on ``device``: ``vmap`` or ``loop``."""
    return BATCHING.get(device.type, "vmap")


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a GPU that says so, or a CPU whose
    flags (``/proc/cpuinfo``) list ``avx512_bf16`` or ``amx_bf16``. (PyTorch's own
    ``_is_mkldnn_bf16_supported`` is true on any AVX-512 CPU, which emulates it slowly.)"""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_precision(precision: str, device: torch.device, where: str = "train") -> None:
    """Refuse ``bf16`` on a device without bfloat16 instructions."""
    if precision == "bf16" and not bf16_supported(device):
        raise TicketlabError(
            f"{where}.precision is bf16, but this {device.type} has no bfloat16 instructions "
            "(a CPU needs avx512_bf16 or amx_bf16, a GPU bfloat16 support); set "
            f"{where}.precision: fp32"
        )


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The context of ``precision``'s dense products: bfloat16 autocast, or none."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer reads finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def describe(device: torch.device) -> dict[str, Any]:
    """What a run records about its device beyond its name."""
    if device.type != "cuda":
        return {}
    return {
        "gpu": torch.cuda.get_device_name(device),
        "cuda": torch.version.cuda,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
