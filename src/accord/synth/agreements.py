"""The three data-sharing agreements of the scenario, in exactly SPEC.md's YAML shape."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AgreementText:
    recipient: str
    title: str
    legal_basis: str


# The legal bases name the provisions the real sharing relied on; the scenario is synthetic.
AGREEMENTS = (
    AgreementText(
        "dvla",
        "Driving licences of people with no leave to remain",
        "Road Traffic Act 1988, s.97 and s.99, as amended by Immigration Act 2014, "
        "ss.46-47 (synthetic scenario)",
    ),
    AgreementText(
        "hmrc",
        "Benefits and tax credits of people with no leave to remain",
        "Immigration and Asylum Act 1999, s.115; Tax Credits Act 2002, s.42 (synthetic scenario)",
    ),
    AgreementText(
        "bank",
        "Current accounts of disqualified persons",
        "Immigration Act 2014, ss.40-43, as amended by Immigration Act 2016, Sch.7 "
        "(synthetic scenario)",
    ),
)


def agreement_id(recipient: str) -> str:
    return f"home-office-to-{recipient}"


def agreement_yaml(a: AgreementText, as_of: dt.date) -> str:
    valid_from = as_of - dt.timedelta(days=365)
    review_by = as_of + dt.timedelta(days=365)
    legal = a.legal_basis.replace('"', '\\"')
    return f"""id: {agreement_id(a.recipient)}
title: {a.title}
source: home-office
recipient: {a.recipient}
purpose: immigration_enforcement
legal_basis: "{legal}"
data_categories: [immigration_casework]
fields: [family_name, given_names, date_of_birth]
status: active
valid_from: {valid_from.isoformat()}
review_by: {review_by.isoformat()}
exclude_cohorts: []
match:
  disclose_at: 0.999
  review_from: 0.90
  ambiguity_margin: 0.05
review:
  four_eyes: true
"""


def write_agreements(directory: Path, as_of: dt.date) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for a in AGREEMENTS:
        path = directory / f"{agreement_id(a.recipient)}.yaml"
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(agreement_yaml(a, as_of), encoding="utf-8")
        os.replace(tmp, path)
        paths.append(path)
    return paths
