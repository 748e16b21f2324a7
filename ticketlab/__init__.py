"""ticketlab: Lottery Ticket Hypothesis experiments, fast and reproducible."""

from ticketlab.api import list_runs, plot, resume, run, verify
from ticketlab.config import Config, load_config, preset
from ticketlab.errors import TicketlabError
from ticketlab.store.rundir import RunDir
from ticketlab.version import __version__

__all__ = [
    "Config",
    "RunDir",
    "TicketlabError",
    "__version__",
    "list_runs",
    "load_config",
    "plot",
    "preset",
    "resume",
    "run",
    "verify",
]
