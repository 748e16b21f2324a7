"""``ticketlab bench``: training throughput against the device's peak and a plain baseline
(``mlp``), conv nets against a plain loop (``conv``), and their tables (``format``)."""

from ticketlab.bench.conv import run_conv_bench
from ticketlab.bench.format import format_bench, format_crossover
from ticketlab.bench.mlp import crossover, run_bench

__all__ = ["crossover", "format_bench", "format_crossover", "run_bench", "run_conv_bench"]
