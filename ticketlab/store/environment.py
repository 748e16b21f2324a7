"""What a run records about where it ran: versions, the git commit of the code and
whether its tree had changes, the device, threads and denormal handling."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ticketlab.device import describe
from ticketlab.train import denormals
from ticketlab.version import __version__


def source_version() -> dict[str, Any]:
    """The git commit of the ticketlab code that runs, and whether its tree has changes
    not committed (null for both when it does not run from a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": bool(status.strip())}


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "ticketlab": __version__,
        **source_version(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "denormals": denormals.check(),
        "device": str(device),
    }
    return env | describe(device)
