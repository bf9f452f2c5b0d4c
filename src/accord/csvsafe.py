"""Cells a spreadsheet would run as formulas, made inert (OWASP "CSV injection").

A batch goes to people at recipient bodies who open it in a spreadsheet.  Its values
come from case records, so a name such as ``=HYPERLINK("http://…")``, ``+cmd|' /C calc'!A0``
or ``@SUM(1+1)`` would run as a formula there.  Every cell of a batch that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or a full-width ``＝ ＋ － ＠``,
which some spreadsheets treat alike) is written with a single quote in front, as OWASP
advises; the quote shows the value is text.  :func:`accord.outputs.write_batch` applies
it to every batch, the files `accord run` writes and the inbox's CSV download alike, and
:mod:`accord.web.oversee` to the rows it exports as CSV.
"""

from __future__ import annotations

TRIGGERS = "=+-@\t\r＝＋－＠"
PREFIX = "'"


def neutralise(value: str) -> str:
    """``value`` as a spreadsheet shows it as text: a quote before a formula's first character."""
    return PREFIX + value if value and value[0] in TRIGGERS else value
