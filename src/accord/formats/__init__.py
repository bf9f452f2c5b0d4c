"""The interchange files of SPEC.md: their formats, validation and typed loading."""

from accord.formats.reader import Opened, Report, load, load_records, open_file, opened, validate
from accord.formats.schema import FORMATS, FileFormat

__all__ = [
    "FORMATS",
    "FileFormat",
    "Opened",
    "Report",
    "load",
    "load_records",
    "open_file",
    "opened",
    "validate",
]
