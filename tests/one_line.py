"""The check every failure a user can cause gets: one line on stderr, no traceback, and
the exit status the command line promises (``one_line_error``, for every test)."""

from __future__ import annotations

from typing import Protocol

import pytest

from accord.cli import main


class OneLineError(Protocol):
    def __call__(self, args: list[str], code: int, fragment: str, usage: bool = False) -> None:
        """Run ``accord args``: it exits ``code`` and says ``fragment`` in one line."""


@pytest.fixture
def one_line_error(capsys: pytest.CaptureFixture[str]) -> OneLineError:
    def check(args: list[str], code: int, fragment: str, usage: bool = False) -> None:
        assert main(args) == code
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err
        # a usage error is Click's usage block, ending in one line that names the problem
        line = err.splitlines()[-1] if usage else err
        assert fragment in line, err
        assert "\n" not in line, err

    return check
