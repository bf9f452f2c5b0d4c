"""Words for the staff screens: no Python list, raw float or code name reaches a page.

The subject access letter (`accord.rights.explain`) speaks to the person ("you"); staff
read about someone else, so the reason codes, statuses and comparison levels are said
here in the third person, with the same phrasing for chances ("about 1 in 100 records
matched this closely could be someone else").  A code no table knows is spelled out
(`explain.spelled`), never shown bare or dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from accord import templating
from accord.linkage.words import one_in
from accord.rights import explain
from accord.vocab import (
    Decision,
    DisclosureStatus,
    EventType,
    ItemStatus,
    PoolStatus,
    Reason,
    RecallReason,
    RemedyStatus,
    ReviewKind,
)

# --- review items -------------------------------------------------------------------------

KINDS = explain.STAFF_REVIEW_KINDS

# What approving and rejecting an item does, named by what happens (issue 19): approve
# always lets the outcome adverse to the person go ahead, reject protects them.
BUTTONS: dict[str, tuple[str, str]] = {
    ReviewKind.MANUAL_CHECK: ("Admit to the pool", "Keep out of the pool"),
    ReviewKind.UNCERTAIN_MATCH: (
        "Same person: share the record",
        "Not the same person: share nothing",
    ),
    ReviewKind.AMBIGUOUS_MATCH: (
        "Same person: share the record",
        "Not the same person: share nothing",
    ),
    ReviewKind.LONG_RESIDENCE: (
        "Same person: share the record",
        "Do not share: weigh the residence",
    ),
    ReviewKind.DISPUTE: ("Dismiss: sharing may resume", "Uphold the dispute: stop and recall"),
    ReviewKind.RE_REVIEW: (
        "The decision stands: sharing may resume",
        "Uphold: withdraw and recall",
    ),
    ReviewKind.DISPUTE_RESOLUTION: ("Lift the freeze: sharing may resume", "Keep the freeze"),
    ReviewKind.SCORE_REVIEW: ("Share the score with its explanation", "Do not share the score"),
}

# Reason presets per kind: (decision, words).  Key N on the item page decides with preset N.
PRESETS: dict[str, list[tuple[str, str]]] = {
    "match": [
        (
            Decision.APPROVE,
            "Same person: names, date of birth and address agree with the case file",
        ),
        (Decision.APPROVE, "Same person: the differences are explained by the case file"),
        (Decision.REJECT, "Not the same person: the date of birth differs"),
        (Decision.REJECT, "Not the same person: the names differ"),
        (Decision.REJECT, "Cannot be sure it is the same person"),
    ],
    ReviewKind.MANUAL_CHECK: [
        (Decision.APPROVE, "Identity and status confirmed against the case file"),
        (Decision.REJECT, "Status not confirmed by the case file"),
        (Decision.REJECT, "Likely long residence: keep out and refer"),
    ],
    ReviewKind.DISPUTE: [
        (Decision.REJECT, "The person's evidence shows the record is wrong"),
        (Decision.REJECT, "The person has leave or an appeal the record does not show"),
        (Decision.APPROVE, "Evidence checked: the record is right and the decision stands"),
    ],
    ReviewKind.RE_REVIEW: [
        (Decision.REJECT, "The new facts show the record should not be used"),
        (Decision.REJECT, "The corrected record no longer supports sharing"),
        (Decision.APPROVE, "The new facts do not change the decision"),
    ],
    ReviewKind.DISPUTE_RESOLUTION: [
        (Decision.APPROVE, "The dispute is resolved: sharing may resume"),
        (Decision.REJECT, "Not resolved yet: keep the freeze"),
    ],
    ReviewKind.SCORE_REVIEW: [
        (Decision.APPROVE, "Score and explanation checked: fit to share"),
        (Decision.REJECT, "The explanation does not support the score"),
        (Decision.REJECT, "Not needed for the agreement's purpose"),
    ],
}

MATCH_KINDS = (ReviewKind.UNCERTAIN_MATCH, ReviewKind.AMBIGUOUS_MATCH, ReviewKind.LONG_RESIDENCE)


def presets(kind: str) -> list[tuple[str, str]]:
    return PRESETS["match" if kind in MATCH_KINDS else kind] if kind in KINDS else []


def kind(code: str) -> str:
    return KINDS.get(code) or explain.spelled(code).capitalize()


def buttons(code: str) -> tuple[str, str]:
    return BUTTONS.get(code, ("Approve", "Reject"))


# --- reason codes, third person -----------------------------------------------------------

REASONS: dict[str, str] = {
    # admission
    "procedural_refusal": "the refusal was procedural (a fee or a form), not about the right "
    "to be here",
    "fee_not_paid": "the refusal was for an unpaid fee (procedural)",
    "incomplete_application": "the refusal was for an incomplete form (procedural)",
    "invalid_application": "the refusal was for an invalid application (procedural)",
    "appeal_pending": "an appeal is waiting to be decided",
    "pending_appeal": "an appeal is waiting to be decided",
    "appeal_in_time": "an appeal can still be made in time",
    "in_time_appeal": "an appeal can still be made in time",
    "appeal_allowed": "an appeal was allowed",
    "current_leave": "the person has leave to be here",
    "has_leave": "the person has leave to be here",
    "leave_current": "the person has leave to be here",
    "departed": "a departure was recorded",
    EventType.DEPARTURE_RECORDED: "a departure was recorded",
    "recorded_departure": "a departure was recorded",
    "missing_key_data": "key details are missing",
    "missing_data": "key details are missing",
    "missing_name": "no name is recorded",
    "missing_date_of_birth": "the date of birth is missing",
    "contradictory_data": "the records contradict each other",
    "contradictory_key_data": "the records contradict each other",
    "contradictory_date_of_birth": "the records give different dates of birth",
    "conflicting_date_of_birth": "the records give different dates of birth",
    "conflicting_names": "the records give different names",
    "conflicting_nationality": "the records give different nationalities",
    "arrived_before_1973": "arrived before 1973: likely to have the right to stay, two "
    "people check first",
    Reason.NO_CASE_DATA: "no case record could justify it",
    "eligibility": "did not meet the rules applied for",
    "suitability": "judged not suitable under the rules",
    "deception": "judged to have given false information",
    "criminality": "a criminal conviction",
    "no_adverse_decision": "no decision against the person",
    "latest_decision_grant": "the latest decision was a grant",
    "adverse_decision": "the latest decision is adverse, with no appeal or leave outstanding",
    "protected_cohort": "in a group a person must check first",
    PoolStatus.MANUAL_CHECK: "a person had to check the record first",
    Reason.MANUAL_CHECK_APPROVED: "a person checked the record and admitted it",
    Reason.MANUAL_CHECK_REJECTED: "a person checked the record and kept it out",
    "cleansing": "the pool was checked again against current records",
    "no_longer_qualifies": "the record no longer meets the rules",
    # events and what they caused
    EventType.DECISION_OVERTURNED: "the decision was overturned",
    EventType.LEAVE_GRANTED: "leave was granted",
    EventType.EVIDENCE_RECEIVED: "new evidence arrived",
    EventType.RECORD_CORRECTED: "the record was corrected",
    EventType.DISPUTE_OPENED: "the person disputed the record",
    EventType.DISPUTE_RESOLVED: "the dispute was reported resolved",
    RecallReason.DISPUTE_UPHELD: "a reviewer upheld the person's dispute",
    RecallReason.RE_REVIEW_UPHELD: "a re-review found the record should not have been used",
    PoolStatus.WITHDRAWN: "the person was withdrawn from the pool",
    # the gate
    Reason.NOT_ADMITTED: "the person is not in the pool",
    Reason.AGREEMENT_NOT_ACTIVE: "the agreement is not in force",
    Reason.AGREEMENT_NOT_YET_VALID: "the agreement has not started",
    Reason.AGREEMENT_REVIEW_OVERDUE: "the agreement is overdue for its review",
    Reason.COHORT_EXCLUDED: "the agreement does not cover the person's group",
    Reason.FIREWALL_PROTECTED_SOURCE: "the value came from a protected service and may never be "
    "used for enforcement",
    Reason.AGREEMENT_PAUSED: "sharing under the agreement is paused",
    Reason.COHORT_PAUSED: "sharing about the person's group is paused",
    Reason.PERSON_FROZEN: "sharing about the person is frozen",
    Reason.BELOW_REVIEW_THRESHOLD: "the records are not similar enough to be a match",
    "below_review": "the records are not similar enough to be a match",
    Reason.UNCERTAIN_MATCH: "the match is not certain enough to share without a person",
    Reason.UNCORROBORATED_MATCH: "only names and date of birth agree, which fits other people too",
    Reason.AMBIGUOUS_MATCH: "another record or person matches almost as well",
    Reason.LONG_RESIDENCE: "the register shows a relationship that began long ago",
    Reason.AUTOMATIC_MATCH: "close enough to share without a person",
    "automatic": "close enough to share without a person",
    Reason.REVIEW_APPROVED: "a person checked the match and approved it",
    ReviewKind.SCORE_REVIEW: "a score is shared only after a person checks it",
    Reason.SCORE_ADVERSE_USE: "the score would be used for action against the person",
    RecallReason.SCORE_EXPIRED: "the score is older than the agreement allows",
    RecallReason.SCORE_DESTROYED: "the score has been deleted",
    "score_recalled": "the score was recalled",
}

POOL_STATUS: dict[str, str] = {
    PoolStatus.ADMITTED: "In the pool",
    PoolStatus.EXCLUDED: "Kept out of the pool",
    PoolStatus.QUARANTINED: "Held back: incomplete or contradictory",
    PoolStatus.MANUAL_CHECK: "Waiting for a person to check",
    PoolStatus.WITHDRAWN: "Withdrawn from the pool",
    "candidate": "A candidate, not yet decided",
}

REMEDY: dict[str, str] = {
    RemedyStatus.OUTSTANDING: "Outstanding: the recipient acted and has not reported undoing it",
    RemedyStatus.REMEDIED: "Remedied: the recipient reported undoing it",
    RemedyStatus.NONE_NEEDED: "None needed: nothing was done on it",
}
REMEDY_SHORT: dict[str, str] = {
    RemedyStatus.OUTSTANDING: "outstanding",
    RemedyStatus.REMEDIED: "remedied",
    RemedyStatus.NONE_NEEDED: "none needed",
}
# What a recipient must do about a recall, by its remedy status.
REMEDY_FOR_RECIPIENT: dict[str, str] = {
    RemedyStatus.OUTSTANDING: "Undo what you did, then report it",
    RemedyStatus.REMEDIED: "Done: you reported undoing it",
    RemedyStatus.NONE_NEEDED: "Nothing to undo: stop using it",
}

ITEM_STATUS: dict[str, str] = {
    ItemStatus.OPEN: ItemStatus.OPEN,
    ItemStatus.APPROVED: ItemStatus.APPROVED,
    ItemStatus.REJECTED: ItemStatus.REJECTED,
    ItemStatus.RELEASED: "released by a trusted pattern",
}

DISCLOSURE_STATUS: dict[str, str] = {
    DisclosureStatus.ACTIVE: "in force",
    DisclosureStatus.RECALLED: DisclosureStatus.RECALLED,
}

ACTIONS = {
    "revoked": "Revoked (took away a licence)",
    "stopped": "Stopped (a payment or benefit)",
    "closed": "Closed (an account)",
    "refused": "Refused (a service)",
    "none": "No action taken",
    "reinstated": "Reinstated (gave a licence back)",
    "restored": "Restored (a payment or benefit)",
    "reopened": "Reopened (an account)",
}

EVENT_TYPES: dict[str, str] = {
    EventType.DISPUTE_OPENED: "Dispute opened",
    EventType.DISPUTE_RESOLVED: "Dispute reported resolved",
    EventType.EVIDENCE_RECEIVED: "New evidence received",
    EventType.RECORD_CORRECTED: "Record corrected",
    EventType.DECISION_OVERTURNED: "Decision overturned",
    EventType.LEAVE_GRANTED: "Leave granted",
    PoolStatus.WITHDRAWN: "Withdrawn",
}

AUDIT_ACTIONS = {
    "login": "signed in",
    "login_failed": "failed to sign in",
    "login_locked": "was refused while the sign-in was locked",
    "disclosure_read": "read disclosures",
    "recall_read": "read recalls",
    "review_queue_read": "read the review queue",
    "review_item_read": "read a review item",
    "person_read": "read a person's record",
    "subject_access": "produced a subject access report",
    "review_approve": "approved a review item",
    "review_reject": "rejected a review item",
    "oversight_read": "read rows behind an oversight figure",
    "audit_log_read": "read the audit log",
    "disclosures_acknowledged": "acknowledged disclosures",
    "recalls_acknowledged": "acknowledged recalls",
    "logout": "signed out",
    "actions_recorded": "reported what a recipient did",
    "events_applied": "applied events",
    EventType.DISPUTE_OPENED: "opened a dispute",
    "review_items_opened": "opened review items",
    "agreement_loaded": "loaded an agreement",
    Reason.AGREEMENT_PAUSED: "paused an agreement",
    "agreement_resumed": "resumed an agreement",
    Reason.COHORT_PAUSED: "paused a cohort",
    "policy_loaded": "loaded the policy",
    "pool_withdrawn": "withdrew people from the pool",
    "firewall_refused": "was refused by the firewall",
    "exemption_applied": "withheld an item from a subject access report",
    "exemption_lifted": "lifted an exemption",
    "retention_applied": "destroyed records past their retention",
    "scores_loaded": "loaded scores",
    "scores_read": "read scores",
    RecallReason.SCORE_DESTROYED: "destroyed a score",
    "audit_verdict_recorded": "recorded an audit verdict",
    "proposal_applied": "applied a proposal",
    "user_added": "added a user",
    "user_disabled": "disabled a user",
    "user_unlocked": "unlocked a user",
    "password_set": "set a password",
    "token_issued": "issued an API token",
    "tokens_revoked": "revoked API tokens",
    EventType.DEPARTURE_RECORDED: "recorded a departure",
}

FIELDS = {
    "family_name": "Family name",
    "given_names": "Given names",
    "date_of_birth": "Date of birth",
    "postcode": "Postcode",
    "nationality": "Nationality",
    "arrival_date": "Arrived",
    "since": "Record began",
    "record_id": "Record",
    "latest_decision": "Latest decision",
    "latest_decision_date": "Latest decision on",
    "refusal_reason": "Refusal reason",
    "appeal_status": "Appeal",
    "leave": "Leave",
    "leave_expiry": "Leave ends",
    "departure_date": "Departed",
    "derived_as_of": "Derived as of",
}


def reason(code: Any) -> str:
    """One reason code in words (third person); a code no table knows, spelled out."""
    text = str(code)
    return REASONS.get(text) or explain.spelled(text)


def reasons(codes: Any) -> str:
    """A list of reason codes (or one) as one sentence-part: "a; b and c"."""
    if codes is None:
        return ""
    if isinstance(codes, str):
        codes = [codes]
    said = [reason(c) for c in codes if str(c)]
    return listed(said)


def listed(parts: Sequence[str], sep: str = "; ") -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return sep.join(parts[:-1]) + " and " + parts[-1]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def field(name: str) -> str:
    return FIELDS.get(name) or capital(explain.spelled(name))


def code(table: Mapping[str, str], value: Any) -> str:
    """``value`` from ``table``, else spelled out; empty for None."""
    if value is None or value == "":
        return ""
    return table.get(str(value), explain.spelled(str(value)))


# --- values -------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day(value: Any) -> str:
    """A date as "14 March 1956" (GOV.UK style); a datetime as its UTC day."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    return str(value)


def moment(value: dt.datetime | None) -> str:
    """A time as "14 March 2026, 09:30 UTC"."""
    if value is None:
        return ""
    at = value.astimezone(dt.UTC) if value.tzinfo else value
    return f"{at.day} {at:%B %Y, %H:%M} UTC"


def value(name: str, raw: Any) -> str:
    """A record's value in words: dates spelled, countries named, codes said, lists joined."""
    if raw is None or raw == "":
        return ""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, float):
        return f"{raw:g}"
    if isinstance(raw, list | tuple):
        return ", ".join(value(name, v) for v in raw)
    if isinstance(raw, Mapping):
        return "; ".join(f"{field(str(k))}: {value(str(k), v) or '—'}" for k, v in raw.items())
    if isinstance(raw, dt.date) or (isinstance(raw, str) and _ISO_DATE.match(raw)):
        return day(raw)
    text = str(raw)
    if name == "nationality" and re.fullmatch(r"[A-Z]{3}", text):
        return f"{explain.country(text)} ({text})"
    if name == "latest_decision":
        return explain.DECISIONS.get(text, explain.spelled(text))
    if name == "leave":
        return explain.LEAVE.get(text, explain.spelled(text))
    if name == "appeal_status":
        return explain.APPEAL.get(text, explain.spelled(text))
    if name == "refusal_reason":
        return reason(text)
    return text


def age(created: dt.datetime, now: dt.datetime) -> str:
    """How long an item has waited: "today", "1 day", "3 days", "2 weeks"."""
    days = (now.date() - created.astimezone(dt.UTC).date()).days
    if days <= 0:
        return "today"
    if days < 14:
        return "1 day" if days == 1 else f"{days} days"
    if days < 70:
        return f"{days // 7} weeks"
    return f"{days // 30} months"


# --- chances ------------------------------------------------------------------------------


def band(p: float | None) -> str:
    """A match probability as a judgement: what a reviewer scans the queue by."""
    if p is None or not math.isfinite(p):
        return ""
    if p >= 0.999:
        return "almost certain"
    if p >= 0.99:
        return "very likely"
    if p >= 0.9:
        return "likely"
    if p >= 0.5:
        return "more likely than not"
    if p >= 0.01:
        return "unlikely"
    return "very unlikely"


def chance(p: float | None) -> str:
    """ "almost certain (99.95%)" for the queue and tables."""
    if p is None or not math.isfinite(p):
        return ""
    return f"{band(p)} ({small_chance(p)})"


def small_chance(p: float) -> str:
    """A probability as a percentage, or "about 1 in 2 billion" where a percentage would
    round to nothing."""
    if p >= 0.001:
        return explain.percent(p)
    if p <= 0:
        return "no chance at all"
    return one_in(p)


def someone_else(p: float | None, wrong_person: float | None = None) -> str:
    """The chance that the record is someone else's, as the letter says it."""
    miss = wrong_person if wrong_person is not None else (None if p is None else 1.0 - p)
    if miss is None or not math.isfinite(miss):
        return ""
    if miss >= 0.5:
        return f"More likely than not to be someone else's ({explain.percent(miss)} chance)"
    return (
        f"{capital(one_in(miss))} records matched this closely could be someone else"
        if miss > 0
        else "No measurable chance that it is someone else"
    )


def weight_effect(weight: float | None) -> str:
    """A comparison's weight as how many times likelier or less likely it made the match."""
    if weight is None or not math.isfinite(weight):
        return ""
    if abs(weight) < 0.05:
        return "no difference"
    times = 2.0 ** abs(weight)
    factor = (
        "over a million" if times >= 1e6 else f"{times:,.0f}" if times >= 10 else f"{times:.1f}"
    )
    return f"{factor} times {'more' if weight > 0 else 'less'} likely"


_THIRD = [
    ("your file", "the person's case file"),
    ("before you first arrived", "before the person first arrived"),
    ("after you first arrived", "after the person first arrived"),
    ("when you arrived", "when the person arrived"),
    ("with your names", "with the person's names"),
    ("that you have no record", "that the person has no record"),
    ("are about you", "are about the person"),
]


def third_person(text: str) -> str:
    """The letter's "you" said of the person, for staff."""
    for mine, theirs in _THIRD:
        text = text.replace(mine, theirs)
    return text


def level(label: str) -> str:
    return third_person(explain.level_words(label))


def sentences(items: Iterable[Any]) -> list[str]:
    return [str(s) for s in items if str(s).strip()]


def status_of(item_status: str | None) -> str:
    return ITEM_STATUS.get(str(item_status), explain.spelled(str(item_status)))


# What every template may call.
TEMPLATE_GLOBALS: dict[str, Any] = {
    **templating.VOCABULARY,  # ItemStatus.OPEN, Decision.APPROVE, ... (accord.templating)
    "kind_words": kind,
    "moment": moment,
    "day": day,
    "value": value,
    "chance": chance,
    "status_of": status_of,
    "event_words": lambda c: code(EVENT_TYPES, c),
    "action_words": lambda c: code(ACTIONS, c),
    "reason_words": reason,
    "reasons_words": reasons,
    "remedy_words": lambda c: code(REMEDY, c),
    "remedy_for_recipient": lambda c: code(REMEDY_FOR_RECIPIENT, c),
    "field_words": field,
    "pool_words": lambda c: code(POOL_STATUS, c),
    "audit_words": lambda c: code(AUDIT_ACTIONS, c),
}
