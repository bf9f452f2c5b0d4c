"""The domain's words: every status, kind, reason and event type Accord stores or writes.

Each is a :class:`enum.StrEnum`, so a member *is* its string: it is stored in the
database, written to CSV and JSON, hashed into the ledger and compared with what was
read back exactly as the plain string was, byte for byte.  Everything else imports its
words from here and spells none of them out; ``tests/project/test_architecture.py`` checks that
no module but this one holds one of these strings as a literal, and that this module
imports nothing from Accord, so that any module can import it without a cycle.

Formatting a member gives its value (``f"{PoolStatus.ADMITTED}"`` is ``admitted``), so
SQL text that must hold one as a constant uses :func:`sql_in` or ``'{member}'``: the value
comes from here, never from a user.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class PoolStatus(StrEnum):
    """A person's place in the refusal pool (``pool_entries.status``, ``pool_history``)."""

    ADMITTED = "admitted"
    EXCLUDED = "excluded"
    QUARANTINED = "quarantined"  # missing or contradictory identity data
    MANUAL_CHECK = "manual_check"  # a protected cohort: reviewers must approve first
    WITHDRAWN = "withdrawn"  # admitted before, no longer qualifies: what was shared is recalled


class RuleOutcome(StrEnum):
    """What an admission rule of the policy does to the people it matches."""

    EXCLUDE = "exclude"
    QUARANTINE = "quarantine"
    MANUAL_CHECK = "manual_check"


class ReviewKind(StrEnum):
    """The kind of a review item (``review_items.kind``): what approving it lets go ahead."""

    MANUAL_CHECK = "manual_check"  # a protected-cohort person before admission
    UNCERTAIN_MATCH = "uncertain_match"
    AMBIGUOUS_MATCH = "ambiguous_match"
    LONG_RESIDENCE = "long_residence"
    DISPUTE = "dispute"  # a freeze after the person disputed what is held
    RE_REVIEW = "re_review"  # a freeze after new evidence or a corrected record
    DISPUTE_RESOLUTION = "dispute_resolution"
    SCORE_REVIEW = "score_review"  # a derived score the gate will not share without a person


MATCH_KINDS = (ReviewKind.UNCERTAIN_MATCH, ReviewKind.AMBIGUOUS_MATCH, ReviewKind.LONG_RESIDENCE)
"""Review kinds that hold a match: approving discloses it."""
CHALLENGE_KINDS = (ReviewKind.DISPUTE, ReviewKind.RE_REVIEW)
"""Review kinds a rejection upholds: the person is withdrawn and what was shared recalled."""
FREEZE_KINDS = (*CHALLENGE_KINDS, ReviewKind.DISPUTE_RESOLUTION)
"""Review kinds that come with a freeze on sharing about the person."""
SCORE_KINDS = (ReviewKind.SCORE_REVIEW,)
REVIEW_KINDS: tuple[str, ...] = tuple(ReviewKind)
"""Every review kind, in the order the command line lists them."""


class ItemStatus(StrEnum):
    """The state of a review item (``review_items.status``) or a proposal (``proposals``)."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"  # a review item a trusted pattern let go without a person


PROPOSAL_STATUSES = (ItemStatus.OPEN, ItemStatus.APPROVED, ItemStatus.REJECTED)


class Decision(StrEnum):
    """One reviewer's or approver's decision (``review_decisions.decision``)."""

    APPROVE = "approve"
    REJECT = "reject"


DECIDED: dict[str, ItemStatus] = {
    Decision.APPROVE: ItemStatus.APPROVED,
    Decision.REJECT: ItemStatus.REJECTED,
}
"""The state a decision moves an item to once it settles it."""


class Reason(StrEnum):
    """Reason codes the gate and admission give (docs/gate.md); disclosures and review
    items keep every one that applied.  Admission's exclusion codes come from the policy."""

    NOT_ADMITTED = "not_admitted"
    AGREEMENT_NOT_ACTIVE = "agreement_not_active"
    AGREEMENT_NOT_YET_VALID = "agreement_not_yet_valid"
    AGREEMENT_REVIEW_OVERDUE = "agreement_review_overdue"
    COHORT_EXCLUDED = "cohort_excluded"
    FIREWALL_PROTECTED_SOURCE = "firewall_protected_source"
    AGREEMENT_PAUSED = "agreement_paused"
    COHORT_PAUSED = "cohort_paused"
    PERSON_FROZEN = "person_frozen"
    BELOW_REVIEW_THRESHOLD = "below_review_threshold"
    UNCERTAIN_MATCH = "uncertain_match"
    # No longer decided (linkage model version 1 capped every pair whose full postcode did
    # not agree); kept because review items and disclosures made then carry it.
    UNCORROBORATED_MATCH = "uncorroborated_match"
    AMBIGUOUS_MATCH = "ambiguous_match"
    LONG_RESIDENCE = "long_residence"
    AUTOMATIC_MATCH = "automatic_match"
    REVIEW_APPROVED = "review_approved"
    TRUSTED_PATTERN = "trusted_pattern"  # disclosed under a pattern two approvers trusted
    SCORE_ADVERSE_USE = "score_adverse_use"  # a derived score for an enforcement purpose
    # Admission's own codes, beside the policy's.
    MANUAL_CHECK_APPROVED = "manual_check_approved"
    MANUAL_CHECK_REJECTED = "manual_check_rejected"
    NO_CASE_DATA = "no_case_data"


class GateOutcome(StrEnum):
    """What the gate decided for one (candidate, agreement): the ``gate`` table's
    ``outcome``, a step's working value inside a run, never stored."""

    DISCLOSE = "disclose"
    REVIEW = "review"
    HELD = "held"
    BLOCKED = "blocked"
    SETTLED = "settled"  # decided by an earlier run
    NO_MATCH = "no_match"


class Settled(StrEnum):
    """How an earlier run settled a candidate (the gate's ``settled`` input): disclosed,
    or the state of its review item (:class:`ItemStatus`)."""

    DISCLOSED = "disclosed"


class EventType(StrEnum):
    """What happened after a run (SPEC.md's events file, ``events.event_type``)."""

    DECISION_OVERTURNED = "decision_overturned"
    LEAVE_GRANTED = "leave_granted"
    DEPARTURE_RECORDED = "departure_recorded"
    EVIDENCE_RECEIVED = "evidence_received"
    RECORD_CORRECTED = "record_corrected"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_RESOLVED = "dispute_resolved"


WITHDRAWING_EVENTS = (
    EventType.DECISION_OVERTURNED,
    EventType.LEAVE_GRANTED,
    EventType.RECORD_CORRECTED,
    EventType.DEPARTURE_RECORDED,
)
"""Events after which the person no longer belongs in the pool."""
FREEZING_EVENTS = (EventType.EVIDENCE_RECEIVED, EventType.DISPUTE_OPENED)


class RecallReason(StrEnum):
    """Why a disclosure was recalled (``recalls.reason``), beside the withdrawing event
    types (:data:`WITHDRAWING_EVENTS`, each its own reason) and ``cleansing:<codes>``."""

    DISPUTE_UPHELD = "dispute_upheld"
    RE_REVIEW_UPHELD = "re_review_upheld"
    SCORE_EXPIRED = "score_expired"  # no remedy implied (accord.remedy)
    SCORE_DESTROYED = "score_destroyed"


UPHELD = {
    ReviewKind.DISPUTE: RecallReason.DISPUTE_UPHELD,
    ReviewKind.RE_REVIEW: RecallReason.RE_REVIEW_UPHELD,
}
"""The recall reason when a challenge of this kind is upheld (its item rejected)."""
CLEANSING = "cleansing:"
"""A cleansing run's recall reason: this, then the withdrawn person's reason codes."""


class DisclosureStatus(StrEnum):
    """``disclosures.status``."""

    ACTIVE = "active"
    RECALLED = "recalled"


class RemedyStatus(StrEnum):
    """Whether a recall leaves the recipient something to undo (``recalls.remedy_status``,
    kept by :mod:`accord.remedy` from the recipient's reported actions)."""

    NONE_NEEDED = "none_needed"  # nothing adverse was done on the disclosure
    OUTSTANDING = "outstanding"  # acted on adversely, and not yet reported undone
    REMEDIED = "remedied"  # the recipient reported undoing it


class DestructionOutcome(StrEnum):
    """What retention did with one record due for destruction (``destruction_log.outcome``)."""

    DESTROYED = "destroyed"
    REFUSED = "refused"  # kept: evidence of status, or the person's matters are not settled


class AgreementStatus(StrEnum):
    """An agreement's status; a paused one is still in force, only held."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"


AGREEMENT_IN_FORCE = (AgreementStatus.ACTIVE, AgreementStatus.PAUSED)


def sql_in(values: Iterable[StrEnum]) -> str:
    """``('a', 'b')`` for SQL text: an IN list of vocabulary members, the only values
    ever formatted into SQL here (none contains a quote, and none comes from a user)."""
    words = []
    for v in values:
        if not isinstance(v, StrEnum) or not v.replace("_", "").isalnum():
            raise ValueError(f"{v!r} is not a word of accord.vocab")
        words.append(str(v))
    if not words:
        raise ValueError("an IN list needs at least one value")
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"


def sql_word(value: StrEnum) -> str:
    """``'a'`` for SQL text: one vocabulary member as a string constant (see :func:`sql_in`)."""
    return sql_in((value,))[1:-1]


ROLES = ("caseworker", "reviewer", "recipient", "auditor", "admin", "subject")
"""What a user of the pages and the API may be (``users.role``)."""

EXEMPTION_ITEM_KINDS = (
    "case", "pool_status", "disclosure", "action", "recall", "event", "review", "freeze", "score",
)  # fmt: skip
"""What an exemption can withhold from a subject access report, as ``KIND:REF``."""
