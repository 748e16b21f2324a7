"""ticketlab: Lottery Ticket Hypothesis experiments, fast and reproducible."""

__version__ = "0.1.0"

from ticketlab.api import list_runs, plot, resume, run
from ticketlab.config import Config, load_config, preset
from ticketlab.errors import TicketlabError
from ticketlab.store.rundir import RunDir

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
