"""The report as JSON (for checking), and as a letter in HTML and PDF (for the person).

The letter is made from one Jinja2 template with its stylesheet inline, so it opens the
same anywhere with no network: no fonts, scripts or images are fetched, and the PDF is
WeasyPrint's rendering of that same HTML (a tagged PDF, so screen readers can follow it),
with a fetcher that refuses every URL so nothing can be fetched at render time either.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2

from accord import templating
from accord.rights.document import SubjectAccessReport
from accord.vocab import RemedyStatus, ReviewKind

FORMATS = ("json", "html", "pdf")
ADVERSE = ("revoked", "stopped", "closed", "refused")
CHALLENGE_KINDS = (ReviewKind.DISPUTE, ReviewKind.RE_REVIEW, ReviewKind.DISPUTE_RESOLUTION)


def _day(value: dt.date | dt.datetime | None) -> str:
    """A date as people write it: ``1 March 2019``."""
    if value is None:
        return "not recorded"
    return f"{value.day} {value:%B %Y}"


def _first_upper(text: str) -> str:
    """Capital first letter, the rest untouched (Jinja's ``capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def _value(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return _day(value)
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return _day(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def _and_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _environment() -> jinja2.Environment:
    env = templating.environment("accord.rights")
    env.filters["day"] = _day
    env.filters["first_upper"] = _first_upper
    env.filters["value"] = _value
    env.filters["and_list"] = _and_list
    env.globals["plural"] = _plural
    return env


_ENV: jinja2.Environment | None = None


def to_json(report: SubjectAccessReport) -> str:
    return report.to_json() + "\n"


def to_html(report: SubjectAccessReport) -> str:
    """The letter: plain words, headings a person can navigate, printable, no network."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    identity = {v.field: v.value for v in report.held.identity}
    # A person may have one name (either part empty); only with no name at all held is
    # the latest case record asked.
    if not (identity.get("family_name") or identity.get("given_names")) and report.held.cases:
        latest = report.held.cases[-1]
        identity = {v.field: v.value for v in latest.values}
    name = " ".join(n for n in (identity.get("given_names"), identity.get("family_name")) if n)
    recalled = {r.disclosure_id for r in report.recalls}
    number = {d.disclosure_id: i for i, d in enumerate(report.disclosures, start=1)}
    titles = {d.agreement.agreement_id: d.agreement.title for d in report.disclosures}
    return _ENV.get_template("letter.html").render(
        r=report,
        name=name,
        recipients=sorted({d.recipient_words for d in report.disclosures}),
        recalled=recalled,
        number=number,
        titles=titles,
        adverse=[a for a in report.actions if a.action in ADVERSE],
        outstanding=[c for c in report.recalls if c.remedy_status == RemedyStatus.OUTSTANDING],
        open_freezes=[f for f in report.freezes if f.open],
        checks=[v for v in report.reviews if v.kind not in CHALLENGE_KINDS],
        challenges=[v for v in report.reviews if v.kind in CHALLENGE_KINDS],
    )


def to_pdf(report: SubjectAccessReport) -> bytes:
    """The letter as a tagged PDF, rendered from :func:`to_html` with no URL fetched."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import; only for PDF

    html = to_html(report)
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
    pdf = document.write_pdf(pdf_tags=True)
    assert isinstance(pdf, bytes)
    return pdf


def render(report: SubjectAccessReport, output_format: str) -> bytes:
    """The report in ``json``, ``html`` or ``pdf``, as the bytes to write."""
    if output_format == "json":
        return to_json(report).encode("utf-8")
    if output_format == "html":
        return to_html(report).encode("utf-8")
    if output_format == "pdf":
        return to_pdf(report)
    raise ValueError(f"unknown format {output_format!r}: use one of {', '.join(FORMATS)}")
