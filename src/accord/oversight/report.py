"""The oversight report: one self-contained HTML file for auditors and the public.

Self-contained because it is evidence: it is archived, e-mailed and opened offline, so it
loads nothing at view time (no script, no font, no stylesheet, no image from anywhere);
the charts are inline SVG drawn on the server and each has its numbers in a table.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from accord import rates, templating
from accord.errors import AccordError
from accord.oversight import DEFAULT_OUT
from accord.oversight import charts as charts_mod
from accord.oversight.metrics import (
    COHORT_MEASURES,
    SUPPRESS_BELOW,
    Cell,
    OversightFigures,
    collect,
)


def _number(value: int | float | Cell | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, Cell):
        return str(value)
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _percent(value: float | None, digits: int = rates.DIGITS) -> str:
    """A share as a percentage, by the one function that writes every rate's figures."""
    return rates.figure(value, rates.PERCENT, digits)


def _day(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


@functools.cache
def _environment() -> jinja2.Environment:
    env = templating.environment("accord.oversight")
    env.filters["num"] = _number
    env.filters["pct"] = _percent
    env.filters["day"] = _day
    return env


def render(figures: OversightFigures, charts: Mapping[str, str] | None = None) -> str:
    """The report as HTML text; ``charts`` defaults to :func:`charts.render_all`."""
    drawn = charts_mod.render_all(figures) if charts is None else charts
    return (
        _environment()
        .get_template("report.html")
        .render(
            f=figures,
            charts={k: Markup(v) for k, v in drawn.items()},
            measures=COHORT_MEASURES,
            suppress_below=SUPPRESS_BELOW,
        )
    )


@dataclass(frozen=True)
class ReportResult:
    path: Path
    figures: OversightFigures
    charts: tuple[str, ...]  # names of the charts drawn
    bytes: int


def _check_out(out: Path) -> Path:
    """The folder the report goes in; refuses before any work is done when it cannot."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        if out.is_dir():
            raise AccordError(f"report {out}: is a folder; give a file name such as {DEFAULT_OUT}")
        if parent.exists() and not parent.is_dir():
            raise AccordError(f"report {out}: {parent} is not a folder")
        if not parent.is_dir():
            raise AccordError(f"report {out}: folder {parent} does not exist")
    except OSError as exc:
        raise AccordError(f"report {out}: cannot write: {exc.strerror}") from None
    return parent


def write_report(url: str, out: Path = DEFAULT_OUT, as_of: dt.date | None = None) -> ReportResult:
    """Collect every figure, draw the charts and write the report atomically to ``out``.

    Nothing is written unless the whole report was made, so a failed run never leaves a
    half report that looks like a whole one.
    """
    parent = _check_out(out)
    figures = collect(url, as_of or dt.date.today())
    drawn = charts_mod.render_all(figures)
    data = render(figures, drawn).encode("utf-8")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".accord-report-", suffix=".html", dir=parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # As a file opened plainly would be (the umask decides; `accord` sets 077, since
        # the report is about people), not mkstemp's 0600 nor a fixed 0644.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise AccordError(f"report {out}: cannot write: {exc.strerror}") from None
    return ReportResult(out, figures, tuple(drawn), len(data))
