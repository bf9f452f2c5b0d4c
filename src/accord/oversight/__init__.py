"""Oversight: the figures auditors and the public need to hold the sharing to account (F11).

``metrics.collect`` computes every figure by SQL over the governance tables,
``charts.render_all`` draws them as inline SVG and ``report.write_report`` puts them in one
self-contained HTML file, so the report, the web dashboard and an auditor all see the same.
"""

from pathlib import Path

DEFAULT_OUT = Path("accord-report.html")
"""Where `accord report` writes when not told otherwise."""
