"""The report's charts as inline SVG, drawn on the server with matplotlib.

A report an auditor archives must open the same way in ten years, offline: so no chart
library is loaded at view time, text stays text (``svg.fonttype: none``, searchable and
read by screen readers), each chart carries a ``<title>`` and an ``aria-label``, and each
drawn mark has an id ending ``-mark-N`` so that a test can see the marks were drawn.
Every chart has a data table beside it in the report, because a picture is not a figure
an auditor can copy.
"""

from __future__ import annotations

import html
import io
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter
from matplotlib.typing import RcKeyType

from accord.formats.schema import ADVERSE_ACTIONS, REVERSAL_ACTIONS
from accord.oversight.metrics import CohortTable, OversightFigures
from accord.vocab import PoolStatus

# Okabe & Ito's palette: distinguishable with the common colour-vision deficiencies.
PALETTE: Final = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
ADVERSE_COLOUR: Final = "#D55E00"
REVERSAL_COLOUR: Final = "#009E73"
NEUTRAL_COLOUR: Final = "#999999"
MAX_BARS: Final = 15

STYLE: Final[dict[RcKeyType, Any]] = {
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib, so layout is the same anywhere
    "font.size": 9.0,
    "text.parse_math": False,  # a "$" in an agreement id or reason code is just a "$"
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
}


class Chart:
    """One figure being drawn; :meth:`svg` returns it as accessible inline SVG."""

    def __init__(self, name: str, title: str, description: str, height: float = 3.2) -> None:
        self.name = name
        self.title = title
        self.description = description
        self.figure = Figure(figsize=(6.0, height), layout="constrained")
        self.ax: Axes = self.figure.add_subplot()
        self.marks = 0

    def mark(self, bars: BarContainer | Sequence[object]) -> None:
        """Give every drawn mark a unique id (``<name>-mark-<n>``)."""
        for artist in bars:
            set_gid = getattr(artist, "set_gid", None)
            if set_gid is not None:
                set_gid(f"{self.name}-mark-{self.marks}")
                self.marks += 1

    def svg(self) -> str:
        buf = io.StringIO()
        ids: dict[RcKeyType, Any] = {"svg.hashsalt": self.name, "svg.id": f"chart-{self.name}"}
        with mpl.rc_context(ids):
            self.figure.savefig(
                buf, format="svg", metadata={"Title": self.title, "Date": None}, transparent=False
            )
        return _accessible(buf.getvalue(), self.name, f"{self.title}. {self.description}")


def _accessible(svg: str, name: str, label: str) -> str:
    """Inline-ready SVG: no XML prologue, ``role="img"``, an ``aria-label``, fluid width."""
    start = svg.index("<svg")
    body = svg[start:]
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, count=1, flags=re.DOTALL)
    attrs = (
        f'<svg role="img" aria-label="{html.escape(label, quote=True)}" '
        f'class="chart" data-chart="{html.escape(name, quote=True)}" '
    )
    return attrs + body[len("<svg ") :]


def _count_axis(ax: Axes, horizontal: bool = False) -> None:
    axis = ax.xaxis if horizontal else ax.yaxis
    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.grid(axis="x" if horizontal else "y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _stacked_columns(
    chart: Chart,
    categories: Sequence[str],
    series: dict[str, Sequence[int]],
    colours: dict[str, str] | None = None,
    ylabel: str = "",
) -> None:
    ax = chart.ax
    bottom = [0] * len(categories)
    for i, (label, values) in enumerate(series.items()):
        colour = (colours or {}).get(label, PALETTE[i % len(PALETTE)])
        bars = ax.bar(categories, values, bottom=bottom, label=label, color=colour, width=0.7)
        chart.mark([b for b, v in zip(bars, values, strict=True) if v])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _count_axis(ax)
    ax.set_ylabel(ylabel)
    step = max(1, -(-len(categories) // 12))  # at most a dozen labels, however many months
    ax.set_xticks(
        range(len(categories)),
        [c if i % step == 0 else "" for i, c in enumerate(categories)],
    )
    if len(categories) > 6:
        ax.tick_params(axis="x", labelrotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    if len(series) > 1:
        _legend_above(ax, len(series))


def _legend_above(ax: Axes, entries: int) -> None:
    """Above the plot, where it can hide no mark, at the same distance whatever the height."""
    ax.legend(
        loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=min(entries, 4), fontsize=8,
        borderaxespad=0.0,
    )  # fmt: skip


def _horizontal_bars(
    chart: Chart,
    categories: Sequence[str],
    series: dict[str, Sequence[int | None]],
    xlabel: str,
    stacked: bool = False,
    colours: Sequence[str] = PALETTE,
) -> None:
    """Bars across; ``None`` values (suppressed cells) are not drawn but labelled."""
    ax = chart.ax
    n = len(series)
    positions = list(range(len(categories)))
    height = 0.8 if stacked or n == 1 else 0.8 / n
    left = [0] * len(categories)
    for i, (label, values) in enumerate(series.items()):
        drawn = [v if v is not None else 0 for v in values]
        ys = positions if stacked else [p - 0.4 + height * (i + 0.5) for p in positions]
        bars = ax.barh(
            ys,
            drawn,
            height=height,
            left=left if stacked else None,
            label=label,
            color=colours[i % len(colours)],
        )
        chart.mark([b for b, v in zip(bars, values, strict=True) if v])
        for y, v in zip(ys, values, strict=True):
            if v is None:
                ax.annotate(
                    "<5 (suppressed)",
                    (0, y),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                    color="#555555",
                )
        if stacked:
            left = [a + b for a, b in zip(left, drawn, strict=True)]
    ax.set_yticks(positions, [_short(c) for c in categories])
    ax.invert_yaxis()
    _count_axis(ax, horizontal=True)
    ax.set_xlabel(xlabel)
    if n > 1:
        _legend_above(ax, n)


def _short(label: str, width: int = 34) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _height(rows: float) -> float:
    return max(2.2, min(0.32 * rows + 1.2, 8.0))


# --- the charts -------------------------------------------------------------------------------


def disclosures_by_month(f: OversightFigures) -> str | None:
    rows = f.activity.disclosures_by_month
    if not rows:
        return None
    months = sorted({r.month for r in rows})
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(months))
    for r in rows:
        series[f"{r.agreement_id} ({r.recipient})"][months.index(r.month)] += r.disclosures
    chart = Chart(
        "disclosures_by_month",
        "Disclosures per month, by agreement",
        f"{f.activity.disclosures:,} disclosures from {months[0]} to {months[-1]}.",
    )
    _stacked_columns(chart, months, dict(sorted(series.items())), ylabel="disclosures")
    return chart.svg()


def actions_by_month(f: OversightFigures) -> str | None:
    rows = f.activity.actions_by_month
    if not rows:
        return None
    months = sorted({r.month for r in rows})
    groups = {
        "adverse action": ADVERSE_COLOUR,
        "no action": NEUTRAL_COLOUR,
        "reversal": REVERSAL_COLOUR,
    }
    series = {g: [0] * len(months) for g in groups}
    for r in rows:
        group = (
            "adverse action"
            if r.action in ADVERSE_ACTIONS
            else "reversal"
            if r.action in REVERSAL_ACTIONS
            else "no action"
        )
        series[group][months.index(r.month)] += r.actions
    chart = Chart(
        "actions_by_month",
        "What recipients did, per month",
        f"{f.activity.adverse_actions:,} adverse actions and {f.activity.reversals:,} "
        "reversals reported by recipients.",
    )
    _stacked_columns(chart, months, {k: v for k, v in series.items() if any(v)}, groups, "actions")
    return chart.svg()


def pool_status(f: OversightFigures) -> str | None:
    if not f.pool.statuses:
        return None
    chart = Chart(
        "pool_status",
        "Where people stand in the pool",
        f"{f.pool.people:,} people considered for the pool, by status.",
        _height(len(f.pool.statuses)),
    )
    _horizontal_bars(
        chart,
        [s.status for s in f.pool.statuses],
        {"people": [s.people for s in f.pool.statuses]},
        "people",
    )
    return chart.svg()


def pool_reasons(f: OversightFigures) -> str | None:
    kept_out: dict[str, int] = defaultdict(int)
    for r in f.pool.reasons:
        if r.status != PoolStatus.ADMITTED:
            kept_out[r.reason] += r.people
    if not kept_out:
        return None
    top = sorted(kept_out.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_BARS]
    chart = Chart(
        "pool_reasons",
        "Why people were kept out of the pool",
        "People not admitted, by reason code (a person may have several).",
        _height(len(top)),
    )
    _horizontal_bars(chart, [k for k, _ in top], {"people": [v for _, v in top]}, "people")
    return chart.svg()


def review_queue(f: OversightFigures) -> str | None:
    if not f.review.age:
        return None
    kinds = [k.kind for k in f.review.by_kind if k.open]
    buckets = list(dict.fromkeys(a.bucket for a in f.review.age))
    series = {b: [0] * len(kinds) for b in buckets}
    for a in f.review.age:
        series[a.bucket][kinds.index(a.kind)] += a.items
    chart = Chart(
        "review_queue",
        "Open review items, by kind and age",
        f"{f.review.open:,} items waiting for a person to decide.",
        _height(len(kinds)),
    )
    _horizontal_bars(
        chart,
        kinds,
        dict(series.items()),
        "open items",
        stacked=True,
        colours=("#56B4E9", "#0072B2", "#E69F00", "#D55E00"),
    )
    return chart.svg()


def recalls_by_recipient(f: OversightFigures) -> str | None:
    rows = f.remedies.by_recipient
    if not rows:
        return None
    chart = Chart(
        "recalls_by_recipient",
        "Recalls and their remedies, by recipient",
        f"{f.remedies.recalls:,} recalls: {f.remedies.remedied:,} remedied, "
        f"{f.remedies.outstanding:,} outstanding, {f.remedies.none_needed:,} needing none.",
        _height(len(rows)),
    )
    _horizontal_bars(
        chart,
        [r.recipient for r in rows],
        {
            "remedied": [r.remedied for r in rows],
            "outstanding": [r.outstanding for r in rows],
            "no remedy needed": [r.none_needed for r in rows],
        },
        "recalls",
        stacked=True,
        colours=(REVERSAL_COLOUR, ADVERSE_COLOUR, NEUTRAL_COLOUR),
    )
    return chart.svg()


def time_to_remedy(f: OversightFigures) -> str | None:
    if not f.remedies.days_to_remedy:
        return None
    buckets = f.remedies.days_to_remedy
    chart = Chart(
        "time_to_remedy",
        "Time from recall to remedy",
        f"Median {f.remedies.median_days_to_remedy} days, 90th percentile "
        f"{f.remedies.p90_days_to_remedy} days.",
    )
    _stacked_columns(
        chart,
        [b.bucket for b in buckets],
        {"remedies": [b.count for b in buckets]},
        ylabel="remedies",
    )
    return chart.svg()


def firewall_refusals(f: OversightFigures) -> str | None:
    rows = f.firewall.by_agreement
    if not rows:
        return None
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[f"{r.agreement_id}: {r.data_category}"] += r.refusals
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_BARS]
    chart = Chart(
        "firewall_refusals",
        "Firewall refusals, by agreement and protected data category",
        f"{f.firewall.refusals:,} values or disclosures the firewall kept from an "
        "enforcement purpose.",
        _height(len(top)),
    )
    _horizontal_bars(
        chart,
        [k for k, _ in top],
        {"refusals": [v for _, v in top]},
        "refusals",
        colours=(ADVERSE_COLOUR,),
    )
    return chart.svg()


def _cohort_chart(name: str, table: CohortTable) -> str | None:
    rows = [r for r in table.rows if r.disclosures.value or r.disclosures.suppressed]
    rows = rows[:MAX_BARS]
    if not any(r.disclosures.value for r in rows):
        return None  # nothing publishable to draw; the table says why
    chart = Chart(
        name,
        f"Impact by cohort: {table.title.lower()}",
        "Disclosures and adverse actions per group; counts under 5 are suppressed.",
        _height(len(rows) * 1.4),
    )
    _horizontal_bars(
        chart,
        [r.group for r in rows],
        {
            "disclosures": [r.disclosures.value for r in rows],
            "adverse actions": [r.adverse_actions.value for r in rows],
        },
        "count",
        colours=(PALETTE[0], ADVERSE_COLOUR),
    )
    return chart.svg()


def cohort_age_band(f: OversightFigures) -> str | None:
    return _cohort_chart("cohort_age_band", f.cohorts.age_band)


def cohort_nationality(f: OversightFigures) -> str | None:
    return _cohort_chart("cohort_nationality", f.cohorts.nationality)


def cohort_arrival_era(f: OversightFigures) -> str | None:
    return _cohort_chart("cohort_arrival_era", f.cohorts.arrival_era)


def error_rates(f: OversightFigures) -> str | None:
    strata = [s for s in f.error_rates.strata if s.rate is not None]
    samples = [s for s in f.error_rates.samples if s.rate is not None]
    labels = [f"{s.sample_id} / {s.stratum}" for s in strata] + [
        f"{s.sample_id}: all strata" for s in samples
    ]
    points = [(s.rate, s.low, s.high) for s in strata] + [(s.rate, s.low, s.high) for s in samples]
    if not points:
        return None
    chart = Chart(
        "error_rates",
        "Estimated error rates from audit samples, with 95% intervals",
        "Share of checked items found wrong; bars show 95% Wilson intervals.",
        _height(len(points)),
    )
    ax = chart.ax
    for i, (rate, low, high) in enumerate(points):
        assert rate is not None and low is not None and high is not None
        colour = PALETTE[0] if i < len(strata) else "#000000"
        line = ax.errorbar(
            [rate],
            [i],
            xerr=[[rate - low], [high - rate]],
            fmt="o",
            color=colour,
            capsize=4,
            markersize=5,
        )
        chart.mark([line.lines[0]])
    ax.set_yticks(range(len(points)), [_short(x, 40) for x in labels])
    ax.invert_yaxis()
    ax.set_xlim(0, min(1.0, max(h for _, _, h in points if h is not None) * 1.15 + 0.01))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_xlabel("estimated share wrong")
    return chart.svg()


CHARTS: Final[dict[str, Callable[[OversightFigures], str | None]]] = {
    "disclosures_by_month": disclosures_by_month,
    "actions_by_month": actions_by_month,
    "pool_status": pool_status,
    "pool_reasons": pool_reasons,
    "review_queue": review_queue,
    "recalls_by_recipient": recalls_by_recipient,
    "time_to_remedy": time_to_remedy,
    "firewall_refusals": firewall_refusals,
    "cohort_age_band": cohort_age_band,
    "cohort_nationality": cohort_nationality,
    "cohort_arrival_era": cohort_arrival_era,
    "error_rates": error_rates,
}


# matplotlib's settings are process-wide, so two threads (the web server) draw in turn.
_DRAWING = threading.Lock()


def render_all(figures: OversightFigures) -> dict[str, str]:
    """Every chart that has something to show, as inline SVG text, by name (thread-safe)."""
    out: dict[str, str] = {}
    with _DRAWING, mpl.rc_context(STYLE):
        for name, draw in CHARTS.items():
            svg = draw(figures)
            if svg is not None:
                out[name] = svg
    return out
