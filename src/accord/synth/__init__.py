"""A synthetic scenario with ground truth: `accord synth`.

Nobody can test a system like this on real people's records.  This package writes a
population, the source body's casework about it, three recipients' registers, the events
that arrive after a run and the agreements, in the interchange formats of SPEC.md, with
the truth kept beside them (``truth/``) so that every later capability can be measured.
See docs/synth.md for the kinds of people, the noise and the calibration.
"""

from accord.synth.mix import KINDS, REGISTERS, Mix
from accord.synth.scenario import Scenario, synthesise

__all__ = ["KINDS", "REGISTERS", "Mix", "Scenario", "synthesise"]
