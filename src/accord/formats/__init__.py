"""The interchange files of SPEC.md: their formats, validation and typed loading."""

from accord.formats.reader import Report, load, load_records, validate
from accord.formats.schema import FORMATS, FileFormat

__all__ = ["FORMATS", "FileFormat", "Report", "load", "load_records", "validate"]
