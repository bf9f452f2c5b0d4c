"""The errors a user can cause, and the exit status each one means.

Use cases raise these without knowing who called them: an invalid value names its
field in the domain's words, never a command-line option.  The adapters map them: the
command line turns each into one line on stderr (an invalid value's field shown as its
option, `accord.cli.common.option`), the pages and the API into a status and a message
(`accord.web.api.common.http_error`); nothing else reaches a user without ``--debug``.
Exit status follows SPEC.md: 2 for bad input or usage, 1 for a check that ran and failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class AccordError(Exception):
    """Bad input or usage: exit status 2."""

    exit_code = 2


class InvalidInput(AccordError):
    """A value given to a use case is not acceptable: exit status 2; on the web a 422.

    ``field`` is the domain's name for the value (``reviewer``, ``reason``, ``item``),
    never how one caller spells it, and ``problem`` says what is wrong in words that
    follow that name ("must name the person deciding", or the value and what is wrong
    with it), or names it where it says ``{field}`` ("a pause needs a reason
    ({field})").  Each adapter names the field its own way (:meth:`naming`): the command
    line by its option (``--reviewer``), a page in the form's words, the API as the field
    in the error's ``loc``.  ``str()`` uses the field itself.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(self.naming(field.replace("_", " ")))

    def naming(self, name: str) -> str:
        """The message with the field called ``name``, as one caller spells it."""
        if "{field}" in self.problem:
            return self.problem.replace("{field}", name)
        return f"{name} {self.problem}"

    def __reduce__(self) -> tuple[type[InvalidInput], tuple[str, str]]:
        return (type(self), (self.field, self.problem))  # survives a worker process


class NotFound(AccordError):
    """What a use case was asked to act on does not exist: exit status 2; on the web a 404."""


class Conflict(AccordError):
    """Refused in the present state (already decided, decided by this person already,
    settled meanwhile): exit status 2; on the web a 409."""


class CheckFailed(AccordError):
    """A check ran and did not pass (verify, lint): exit status 1."""

    exit_code = 1


class DatabaseUnavailable(AccordError):
    """The database named by the settings cannot be reached or is not initialised."""


class LedgerKeyUnavailable(AccordError):
    """The ledger's signing key cannot be found or used: for an operator to put right.

    Its message tells an operator what to do; the web application logs it and shows
    anyone else a plain message with a reference instead.
    """


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, located exactly.

    ``row`` counts data rows from 1 (the header is not a row); ``None`` means the
    problem is with the file or its header as a whole.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class InputError(AccordError):
    """An input file broke the interchange rules; nothing from it was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = problems
        self.total = total if total is not None else len(problems)
        first = str(problems[0])
        more = self.total - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)

    @classmethod
    def single(
        cls, file: str | Path, message: str, row: int | None = None, column: str | None = None
    ) -> InputError:
        return cls([Problem(str(file), row, column, message)])
