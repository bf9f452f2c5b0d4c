"""Accord: governed sharing of records about people between public bodies."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accord")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
