"""The one exception type the CLI turns into a clear message and a non-zero exit."""


class TicketlabError(Exception):
    """A problem the user can fix: bad input, missing data, a refused run directory."""


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
        super().__init__(f"{path} is being written by {who}")
        self.pid = pid
