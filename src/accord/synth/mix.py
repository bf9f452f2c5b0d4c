"""The proportions of a synthetic scenario, their defaults and their calibration.

The defaults are calibrated to the public figures in SPEC.md (F4); docs/synth.md shows
the arithmetic.  Every proportion can be changed from the command line, and the whole
mix is written to ``scenario.json`` so that a scenario can be regenerated exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from accord.errors import AccordError
from accord.synth.names import ORIGINS

# The kinds of people with a refusal on file who are not rightful targets: only an
# overstayer (refused, no leave, still here) is.
NOT_TARGET = (
    "procedural_refusal",
    "appeal_pending",
    "windrush",
    "departed",
    "has_leave",
    "overturned",
)
KINDS = ("overstayer", *NOT_TARGET)
REGISTERS = ("dvla", "hmrc", "bank")

# Shares of the source body's people by kind.  Only overstayers are rightful targets;
# the hard cases (everyone else who has a refusal on file) are sized so that the naive
# process is wrong in about one disclosure in ten, as the inspection found (17 of 169).
DEFAULT_KINDS: Mapping[str, float] = MappingProxyType(
    {
        "overstayer": 0.50,
        "procedural_refusal": 0.007,
        "appeal_pending": 0.007,
        "windrush": 0.0025,
        "departed": 0.040,
        "has_leave": 0.4375,
        "overturned": 0.006,
    }
)

# Chance that one of the source body's people holds a record in each register (for an
# overstayer; other kinds scale it, see registers.KIND_HOLDING).  Calibrated so that the
# naive process's disclosures per person in its pool match the share of sharing that led
# to action: DVLA 4,300 licences revoked for 107,000 records shared (4.0%); HMRC 600
# benefits or credits stopped for 122,000 (0.5%).  The exact match finds about two DVLA
# records in three (upper case, no accents, initials) and four HMRC records in five,
# hence 0.06 and 0.0055.  Banks: no public share; a bank account is common, 0.30.
DEFAULT_COVERAGE: Mapping[str, float] = MappingProxyType(
    {"dvla": 0.06, "hmrc": 0.0055, "bank": 0.30}
)

# Members of the public planted in each register with exactly the name and date of birth
# (namesakes) or the name and a date one day off (near-namesakes) of one of the source
# body's people, per person.  Sized so that namesakes add about two points to the naive
# process's wrongful share in each register: the bulk bank check is where they bite.
DEFAULT_NAMESAKES: Mapping[str, float] = MappingProxyType(
    {"dvla": 0.0012, "hmrc": 0.0002, "bank": 0.005}
)
DEFAULT_NEAR_NAMESAKES: Mapping[str, float] = MappingProxyType(
    {"dvla": 0.002, "hmrc": 0.001, "bank": 0.005}
)

REGISTER_ROWS_PER_PERSON = 3

# People recorded with one name, per origin where one name is common.  Indonesians
# (Javanese above all) often have one name; many Afghans have no family name; a few
# people of the Horn of Africa (whose second name is a father's name) and of South Asia
# (some Tamil and Bangladeshi people) are recorded with one.  No register publishes these
# shares; they are estimates, large enough that every register meets such people.
DEFAULT_MONONYMS: Mapping[str, float] = MappingProxyType(
    {"indonesian": 0.4, "persian": 0.1, "horn": 0.03, "south_asian": 0.02}
)


def _frozen(m: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(m))


@dataclass(frozen=True)
class Mix:
    """What a scenario is made of.  ``register_rows`` of ``None`` means 3 per person."""

    kinds: Mapping[str, float] = field(default_factory=lambda: DEFAULT_KINDS)
    protected_address: float = 0.03
    quality_fault: float = 0.02
    earlier_refusal: float = 0.01
    departed_refused: float = 0.2
    coverage: Mapping[str, float] = field(default_factory=lambda: DEFAULT_COVERAGE)
    namesakes: Mapping[str, float] = field(default_factory=lambda: DEFAULT_NAMESAKES)
    near_namesakes: Mapping[str, float] = field(default_factory=lambda: DEFAULT_NEAR_NAMESAKES)
    noise: float = 1.0
    register_rows: int | None = None
    previous_known: float = 0.8
    mononyms: Mapping[str, float] = field(default_factory=lambda: DEFAULT_MONONYMS)
    mononym_as_family: float = 0.7
    mononym_swapped: float = 0.3
    mononym_doubled: float = 0.2

    def __post_init__(self) -> None:
        kinds = dict(self.kinds)
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise AccordError(f"unknown kind {unknown[0]!r}: use {', '.join(KINDS)}")
        for k in KINDS:
            kinds.setdefault(k, 0.0)
            _share(f"kind {k}", kinds[k])
        total = sum(kinds.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise AccordError(f"the kinds' shares add up to {total:g}, not 1")
        object.__setattr__(self, "kinds", _frozen({k: kinds[k] for k in KINDS}))
        for name in (
            "protected_address",
            "quality_fault",
            "earlier_refusal",
            "departed_refused",
            "previous_known",
            "mononym_as_family",
            "mononym_swapped",
            "mononym_doubled",
        ):
            _share(name.replace("_", "-"), getattr(self, name))
        if self.mononym_swapped + self.mononym_doubled > 1.0 + 1e-9:
            raise AccordError(
                f"mononym-swapped {self.mononym_swapped:g} and mononym-doubled "
                f"{self.mononym_doubled:g} add up to more than 1"
            )
        mononyms = dict(self.mononyms)
        origins = [o.key for o in ORIGINS]
        for o, v in mononyms.items():
            if o not in origins:
                raise AccordError(f"mononyms: unknown origin {o!r}: use {', '.join(origins)}")
            _share(f"mononyms {o}", v)
        object.__setattr__(self, "mononyms", _frozen({o: mononyms[o] for o in sorted(mononyms)}))
        for name in ("coverage", "namesakes", "near_namesakes"):
            per = dict(getattr(self, name))
            bad = sorted(set(per) - set(REGISTERS))
            if bad:
                raise AccordError(f"unknown register {bad[0]!r}: use {', '.join(REGISTERS)}")
            for r in REGISTERS:
                if r not in per:
                    raise AccordError(f"{name.replace('_', '-')}: no share for register {r}")
                _share(f"{name.replace('_', '-')} {r}", per[r])
            object.__setattr__(self, name, _frozen({r: per[r] for r in REGISTERS}))
        if not (0.0 <= self.noise <= 5.0) or math.isnan(self.noise):
            raise AccordError(f"noise {self.noise:g} is outside 0 to 5")
        if self.register_rows is not None and self.register_rows < 0:
            raise AccordError(f"register rows {self.register_rows} is negative")

    def rows_per_register(self, people: int) -> int:
        if self.register_rows is not None:
            return self.register_rows
        return REGISTER_ROWS_PER_PERSON * people

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            d[k] = dict(v) if isinstance(v, Mapping) else v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Mix:
        return cls(**dict(d))

    def with_kinds(self, given: Mapping[str, float]) -> Mix:
        """These kinds at exactly these shares; the others scaled to fill what is left."""
        return _replace(self, kinds=blend(self.kinds, given, KINDS, "kind"))

    def with_mononyms(self, given: Mapping[str, float]) -> Mix:
        """These origins' shares of one-name people; other origins keep theirs."""
        return _replace(self, mononyms={**self.mononyms, **given})

    def mononym_share(self, origin: str) -> float:
        return self.mononyms.get(origin, 0.0)

    def with_register_shares(self, name: str, given: Mapping[str, float]) -> Mix:
        current = dict(getattr(self, name))
        for r, v in given.items():
            if r not in REGISTERS:
                raise AccordError(f"unknown register {r!r}: use {', '.join(REGISTERS)}")
            current[r] = v
        return _replace(self, **{name: current})


def _replace(mix: Mix, **changes: Any) -> Mix:
    d = {k: getattr(mix, k) for k in mix.__dataclass_fields__}
    d.update(changes)
    return Mix(**d)


def _share(what: str, value: float) -> None:
    if math.isnan(value) or not (0.0 <= value <= 1.0):
        raise AccordError(f"{what}: share {value:g} is outside 0 to 1")


def blend(
    base: Mapping[str, float], given: Mapping[str, float], names: tuple[str, ...], what: str
) -> dict[str, float]:
    for k, v in given.items():
        if k not in names:
            raise AccordError(f"unknown {what} {k!r}: use {', '.join(names)}")
        _share(f"{what} {k}", v)
    fixed = sum(given.values())
    if fixed > 1.0 + 1e-9:
        raise AccordError(f"the {what} shares given add up to {fixed:g}, more than 1")
    rest = [k for k in names if k not in given]
    rest_total = sum(base[k] for k in rest)
    if not rest:
        if not math.isclose(fixed, 1.0, abs_tol=1e-6):
            raise AccordError(f"every {what} was given and their shares add up to {fixed:g}, not 1")
        return {k: given[k] for k in names}
    if rest_total <= 0:
        raise AccordError(f"the {what} shares given leave {1 - fixed:g} for kinds whose share is 0")
    scale = (1.0 - fixed) / rest_total
    return {k: given[k] if k in given else base[k] * scale for k in names}


def parse_shares(text: str, option: str) -> dict[str, float]:
    """``"a=0.3,b=0.1"`` -> ``{"a": 0.3, "b": 0.1}``, or an AccordError naming the part."""
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise AccordError(f"{option}: {part!r} is not NAME=SHARE")
        try:
            share = float(value)
        except ValueError:
            raise AccordError(f"{option}: {value.strip()!r} in {part!r} is not a number") from None
        key = name.strip()
        if key in out:
            raise AccordError(f"{option}: {key!r} is given twice")
        out[key] = share
    if not out:
        raise AccordError(f"{option}: no NAME=SHARE given")
    return out
