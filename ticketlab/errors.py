"""The one exception type the CLI turns into a clear message and a non-zero exit, and the
warnings a run gives."""

import sys
import warnings
from pathlib import Path


class TicketlabError(Exception):
    """A problem the user can fix: bad input, missing data, a refused run directory."""


def install_hint(extra: str) -> str:
    """How to install an optional extra: with the constraints file, which keeps torch the
    CPU build (an unconstrained install can pull a multi-GB CUDA build)."""
    return f"pip install -c constraints.txt -e '.[{extra}]' in a ticketlab checkout"


class ConfigError(TicketlabError):
    """An invalid configuration: unknown key, bad value, unknown preset."""


class DataError(TicketlabError):
    """Missing or malformed dataset files."""


class WriteError(TicketlabError):
    """Writing a file failed (disk full, permissions, read-only, quota). Files are written
    to a temporary name and renamed, so nothing written before is lost or half-written."""

    def __init__(self, path: object, error: BaseException) -> None:
        reason = getattr(error, "strerror", None) or str(error)
        super().__init__(
            f"could not write {path}: {reason}. Nothing already written is lost; free space "
            "or fix the permissions, then run the same command again to resume."
        )


class RunLocked(TicketlabError):
    """Another live process holds the run directory's lock (its pid is in ``.lock``)."""

    def __init__(self, path: object, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another ticketlab process"
        super().__init__(
            f"{path} is being written by {who}; wait for it to end (or stop it), then give "
            "the same command again"
        )
        self.pid = pid


class TicketlabWarning(UserWarning):
    """Something about a run the user should know before trusting it (a layer that loses
    every input, full-batch training); the command line prints it as one line."""


_PACKAGE = str(Path(__file__).parent)


def warn(message: str) -> None:
    """Warn, attributed to the first caller outside ticketlab (the user's script or
    notebook cell) rather than to a line inside the package or code it generated."""
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE) or frame.f_code.co_filename == "<string>"
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, TicketlabWarning, stacklevel=level)


class DamagedFile(TicketlabError):
    """A file of a run directory that cannot be read, or does not match its checksum."""

    def __init__(self, path: object, what: str, remedy: str | None = None) -> None:
        self.path = path
        self.what = what
        super().__init__(
            f"{path} is damaged: {what}. "
            + (
                remedy
                or "Restore it from a copy, or start the run over in a new directory "
                "(`ticketlab verify RUN_DIR` checks every file of a run and says what "
                "`--repair` can rebuild)"
            )
        )
