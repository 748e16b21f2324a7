"""Sweeps: many ordinary runs (a grid of config overrides x seeds) on a Ray cluster, local by
default. ``spec.py`` reads a sweep file into trials, ``runner.py`` runs them as Ray tasks,
``status.py`` and ``report.py`` read a sweep directory back."""

from ticketlab.sweeps.report import write_sweep_report
from ticketlab.sweeps.runner import default_sweep_dir, run_sweep
from ticketlab.sweeps.status import format_status, trial_rows

__all__ = ["default_sweep_dir", "format_status", "run_sweep", "trial_rows", "write_sweep_report"]
