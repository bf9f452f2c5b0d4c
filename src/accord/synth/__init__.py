"""A synthetic scenario with ground truth: `accord synth`.

Nobody can test a system like this on real people's records.  This package writes a
population, the source body's casework about it, three recipients' registers, the events
that arrive after a run and the agreements, in the interchange formats of SPEC.md, with
the truth kept beside them (``truth/``) so that every later capability can be measured.
See docs/synth.md for the kinds of people, the noise and the calibration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.synth.mix import KINDS, REGISTERS, Mix

if TYPE_CHECKING:
    from accord.synth.scenario import Scenario, synthesise

__all__ = ["KINDS", "REGISTERS", "Mix", "Scenario", "synthesise"]


def __getattr__(name: str) -> Any:
    """``Scenario`` and ``synthesise`` are imported when first asked for: the writer needs
    Polars and DuckDB, and the command line shows the mix's kinds in its help."""
    if name not in ("Scenario", "synthesise"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from accord.synth import scenario

    value = getattr(scenario, name)
    globals()[name] = value
    return value
