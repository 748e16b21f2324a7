"""The one exception type the CLI turns into a clear message and a non-zero exit."""


class TicketlabError(Exception):
    """A problem the user can fix: bad input, missing data, a refused run directory."""


class ConfigError(TicketlabError):
    """An invalid configuration: unknown key, bad value, unknown preset."""


class DataError(TicketlabError):
    """Missing or malformed dataset files."""
