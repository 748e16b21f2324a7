"""ticketlab: Lottery Ticket Hypothesis experiments, fast and reproducible."""

__version__ = "0.1.0"

from .api import list_runs, plot, resume, run
from .config import Config, load_config, preset
from .errors import TicketlabError
from .store import RunDir

__all__ = [
    "Config",
    "RunDir",
    "TicketlabError",
    "list_runs",
    "load_config",
    "plot",
    "preset",
    "resume",
    "run",
]
