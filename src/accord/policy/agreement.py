"""Data-sharing agreements: the YAML of SPEC.md as a validated model with a JSON Schema.

An agreement is the only warrant for a disclosure.  The model is strict (an unknown
key is an error, so a misspelt ``exclude_cohort:`` cannot silently switch a safeguard
off) but accepts what the linter exists to report - a missing legal basis, thresholds
out of order - so that ``accord agreements check`` can list every finding at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from accord.errors import InputError, Problem
from accord.policy.documents import content_sha256, problems_from, read_yaml
from accord.vocab import AgreementStatus

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# A recipient's (and so a register's) name: it names files (`batches/<recipient>.csv`),
# so it is a plain name, never a path, a separator or anything a header could not hold.
RECIPIENT_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
RECIPIENT_WORDS = (
    "lower-case letters, digits, '-' and '_', starting with a letter or digit, 1 to 63 characters"
)
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Role = Literal["subject", "victim", "witness"]
SCORE_FIELDS = ("impact_assessment", "score_retention_days", "roles")

YAML_SUFFIXES = (".yaml", ".yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrustedPattern(_Strict):
    """A pattern reviewers' labels show can go without a person (docs/policy.md).

    Written only by an approved proposal (`accord link proposal approve`, two different
    people): an agreement file may leave one out, never add one (`accord.policy.trusted`).
    """

    pattern: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description="The level reached in each comparison, as matches record it "
        "(family_name=exact,given_names=first,...)."
    )
    labels: Annotated[int, Field(ge=1)] = Field(
        description="How many reviewer decisions on that pattern the proposal rested on."
    )
    wrong_upper_per_10000: Annotated[float, Field(ge=0.0, le=10000.0)] = Field(
        description="The 95% upper bound (Wilson) of wrong matches per 10,000 among them."
    )
    proposal_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The approved proposal that made the pattern trusted."
    )


class MatchThresholds(_Strict):
    disclose_at: Probability = Field(
        description="The chance that the record is the person's (every other candidate and "
        "the chance that they hold no record considered) at or above which a disclosure "
        "may be automatic."
    )
    review_from: Probability = Field(
        description="From here up to disclose_at, a person reviews the match first (the "
        "chance above, or the two records' own evidence, whichever is higher)."
    )
    ambiguity_margin: Probability | None = Field(
        None,
        description="Optional: a rival candidate whose chance of being the right one is "
        "within this margin of the best pair's makes the match ambiguous.  The chances "
        "are shared out among the candidates (they add up to at most 1), so this catches "
        "near ties; ambiguity_bits catches the rest.",
    )
    ambiguity_bits: Annotated[float, Field(ge=0.0, le=64.0)] = Field(
        10.0,
        description="A rival candidate (another record for the person, or another person "
        "for the record) within this many bits of match weight of the best pair makes the "
        "match ambiguous: a person tells them apart.  10 bits: the best must be about "
        "1,000 times likelier than every rival.",
    )
    max_wrong_person: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        None,
        description="The largest estimated chance of acting on the wrong person the "
        "agreement accepts for an automatic disclosure; default 1 - disclose_at.",
    )
    trusted_patterns: list[TrustedPattern] | None = Field(
        None,
        description="Patterns whose pairs go without a person when their only reason for "
        "review is uncertain_match (never past ambiguity, long residence, a block or a "
        "hold): added only by a proposal two different people approved.",
    )

    @property
    def wrong_person_tolerance(self) -> float:
        """The effective tolerance: the stricter of max_wrong_person and 1 - disclose_at."""
        implied = 1.0 - self.disclose_at
        if self.max_wrong_person is None:
            return implied
        return min(self.max_wrong_person, implied)

    @property
    def trusted(self) -> list[str]:
        """The trusted patterns, as the gate reads them."""
        return [t.pattern for t in self.trusted_patterns or ()]


# Fields added after agreements were first versioned: dumped only when a file sets them,
# so that an older agreement keeps its digest and its version.
MATCH_FIELDS_ADDED = ("ambiguity_margin", "ambiguity_bits", "max_wrong_person", "trusted_patterns")
REVIEW_FIELDS_ADDED = ("blind",)


class ReviewSettings(_Strict):
    four_eyes: bool = Field(
        True, description="Two distinct reviewers for every adverse outcome that needs review."
    )
    blind: bool = Field(
        False,
        description="Reviewers of a match see both records and what agrees and differs, "
        "but not the score, until they have decided: their decisions are then labels the "
        "model can be checked and retrained against without the score's anchoring.",
    )


def _subject_only() -> list[Role]:
    return ["subject"]


class ImpactAssessment(_Strict):
    document_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The id of the impact assessment on file."
    )
    date: dt.date = Field(description="When the impact assessment was signed off.")


class Agreement(_Strict):
    """One data-sharing agreement (SPEC.md, agreements)."""

    model_config = ConfigDict(
        extra="forbid",
        title="Accord data-sharing agreement",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]
    title: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1, max_length=64)]
    recipient: Annotated[str, Field(pattern=RECIPIENT_NAME)] = Field(
        description="The register name given to `accord run --register NAME=FILE`: "
        + RECIPIENT_WORDS
        + "."
    )
    purpose: Code
    legal_basis: str | None = Field(
        None, description="The statute and section that permit this sharing."
    )
    data_categories: list[Code] = Field(min_length=1)
    fields: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, description="The only fields the recipient receives."
    )
    status: Literal[AgreementStatus.DRAFT, AgreementStatus.ACTIVE, AgreementStatus.PAUSED]
    valid_from: dt.date
    review_by: dt.date
    exclude_cohorts: list[Code] = Field(
        default_factory=list, description="Cohorts (named in the policy) never shared about."
    )
    match: MatchThresholds
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    impact_assessment: ImpactAssessment | None = Field(
        None, description="Required to share derived_score: the impact assessment on file."
    )
    score_retention_days: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Required to share derived_score: how long a score may be kept."
    )
    roles: list[Role] = Field(
        default_factory=_subject_only,
        description="Whose derived scores may be shared: victims and witnesses never for "
        "an enforcement purpose.",
    )

    _file: str | None = PrivateAttr(default=None)

    @property
    def file(self) -> str | None:
        """The file the agreement was loaded from, if any."""
        return self._file

    def document(self) -> dict[str, Any]:
        """The agreement as a JSON-ready document (what is stored and hashed).

        The derived-score fields appear only when the file sets them, so that an
        agreement written before they existed keeps its digest and version.
        """
        exclude: dict[str, Any] = {f: True for f in SCORE_FIELDS if f not in self.model_fields_set}
        match_unset = {f for f in MATCH_FIELDS_ADDED if f not in self.match.model_fields_set}
        review_unset = {f for f in REVIEW_FIELDS_ADDED if f not in self.review.model_fields_set}
        if match_unset:
            exclude["match"] = match_unset
        if review_unset:
            exclude["review"] = review_unset
        return self.model_dump(mode="json", exclude=exclude)

    @property
    def sha256(self) -> str:
        return content_sha256(self.document())


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of an agreement file."""
    return Agreement.model_json_schema(mode="validation")


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


def parse_agreement(document: Any, file: str = "<agreement>") -> Agreement:
    """Validate one agreement document; :class:`InputError` names the file and the field."""
    if not isinstance(document, dict):
        raise InputError.single(file, "an agreement file is a mapping of fields (see SPEC.md)")
    try:
        agreement = Agreement.model_validate(document)
    except ValidationError as exc:
        raise InputError(problems_from(exc, file)) from None
    agreement._file = file
    return agreement


def agreement_files(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, or found (sorted) in the directories named."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in YAML_SUFFIXES)
            if not found:
                raise InputError.single(path, "the folder holds no agreement (.yaml) files")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError.single(path, "no such file or folder")
    return files


def load_agreements(directory_or_files: str | Path | Iterable[str | Path]) -> list[Agreement]:
    """Every agreement in the files or folders given, or :class:`InputError` with every problem.

    Two files defining the same id are an error: an agreement is one document.
    """
    if isinstance(directory_or_files, str | Path):
        directory_or_files = [directory_or_files]
    agreements: list[Agreement] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    for path in agreement_files(directory_or_files):
        try:
            agreement = parse_agreement(read_yaml(path), str(path))
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if agreement.id in first_file:
            problems.append(
                Problem(
                    str(path),
                    None,
                    "id",
                    f"agreement {agreement.id} is already defined in {first_file[agreement.id]}",
                )
            )
            continue
        first_file[agreement.id] = str(path)
        agreements.append(agreement)
    if problems:
        raise InputError(problems)
    return agreements
