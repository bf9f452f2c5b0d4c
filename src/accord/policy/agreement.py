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


class MatchThresholds(_Strict):
    disclose_at: Probability = Field(
        description="Match probability at or above which a disclosure may be automatic."
    )
    review_from: Probability = Field(
        description="From here up to disclose_at, a person reviews the match first."
    )
    ambiguity_margin: Probability = Field(
        description="A second candidate this close to the best one: review, never automatic."
    )


class ReviewSettings(_Strict):
    four_eyes: bool = Field(
        True, description="Two distinct reviewers for every adverse outcome that needs review."
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
    status: Literal["draft", "active", "paused"]
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
        unset = {f for f in SCORE_FIELDS if f not in self.model_fields_set}
        return self.model_dump(mode="json", exclude=unset)

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
