"""ticketlab: Lottery Ticket Hypothesis experiments, fast and reproducible."""

__version__ = "0.1.0"

from .api import list_runs, plot, run
from .config import Config, load_config, preset
from .store import RunDir

__all__ = ["Config", "RunDir", "list_runs", "load_config", "plot", "preset", "run"]
