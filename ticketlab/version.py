"""The installed version, read from the package metadata (``pyproject.toml`` is its one
source). A source tree that was never installed reports ``0+unknown``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ticketlab")
except PackageNotFoundError:  # running from a checkout without an install
    __version__ = "0+unknown"
