"""Codes and match scores in words a person can read.

A subject access report is read by the person the records are about, not by the
people who built the system, so nothing in the letter may be a bare code: every reason
code, status, action and data category is shown in words, and a match score is shown
as what it means ("almost certain", "about 1 in 2,000 could be someone else") with the
evidence for and against it.  The JSON report keeps the codes beside the words, so a
representative can check one against the other.

A code this module does not know still gets words (its parts spelled out), never a
blank, so a new reason added elsewhere can never make an item disappear from a letter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pycountry

from accord.vocab import (
    DECIDED,
    DisclosureStatus,
    EventType,
    ItemStatus,
    PoolStatus,
    Reason,
    RecallReason,
    RemedyStatus,
    ReviewKind,
)

# --- codes -> words -----------------------------------------------------------------------

POOL_STATUS: dict[str, str] = {
    PoolStatus.ADMITTED: "put on the list of people whose records may be shared",
    PoolStatus.EXCLUDED: "kept off the list of people whose records may be shared",
    PoolStatus.QUARANTINED: "held back because the record was incomplete or contradictory",
    PoolStatus.MANUAL_CHECK: "waiting for a person to check the record before any sharing",
    PoolStatus.WITHDRAWN: "taken off the list of people whose records may be shared",
}

REASONS: dict[str, str] = {
    # admission (SPEC.md F1, F2)
    "procedural_refusal": "the refusal was for a procedural reason (such as a fee or a form), "
    "not a decision about your right to be here",
    "fee_not_paid": "the refusal was because a fee was not paid, which is procedural",
    "incomplete_application": "the refusal was because a form was incomplete, which is procedural",
    "invalid_application": "the refusal was because an application was invalid, "
    "which is procedural",
    "appeal_pending": "an appeal is still being decided",
    "pending_appeal": "an appeal is still being decided",
    "appeal_in_time": "an appeal can still be made in time",
    "in_time_appeal": "an appeal can still be made in time",
    "appeal_allowed": "an appeal was allowed",
    "current_leave": "you have permission to be in the country",
    "has_leave": "you have permission to be in the country",
    "leave_current": "you have permission to be in the country",
    "departed": "a departure from the country was recorded",
    EventType.DEPARTURE_RECORDED: "a departure from the country was recorded",
    "recorded_departure": "a departure from the country was recorded",
    "missing_key_data": "key details (such as name or date of birth) were missing",
    "missing_data": "key details (such as name or date of birth) were missing",
    "missing_name": "no name was recorded for you (neither a family name nor given names), "
    "so we could not be sure who the records are about",
    "missing_date_of_birth": "the date of birth was missing",
    "contradictory_data": "the records about you contradicted each other",
    "contradictory_date_of_birth": "your records give different dates of birth, so we could "
    "not be sure who they are about",
    "arrived_before_1973": "you arrived before 1973, so you are likely to have the right to "
    "stay under the Immigration Act 1971, and two people must check before anything happens",
    Reason.NO_CASE_DATA: "we hold no case records that could justify it",
    "contradictory_key_data": "the records about you contradicted each other",
    "conflicting_date_of_birth": "the records gave different dates of birth",
    "conflicting_names": "the records gave different names",
    "conflicting_nationality": "the records gave different nationalities",
    "eligibility": "you did not meet the rules for what you applied for",
    "suitability": "you were judged not suitable under the rules (for example because of "
    "your conduct or history)",
    "deception": "you were judged to have given false information",
    "criminality": "of a criminal conviction",
    "no_adverse_decision": "there is no decision against you",
    "latest_decision_grant": "the latest decision about you was a grant",
    "adverse_decision": "the latest decision about you was a refusal or a withdrawal of "
    "permission, with no appeal or permission outstanding",
    "protected_cohort": "you are in a group whose records a person must check first",
    PoolStatus.MANUAL_CHECK: "a person had to check the record first",
    Reason.MANUAL_CHECK_APPROVED: "a person checked the record and approved it",
    Reason.MANUAL_CHECK_REJECTED: "a person checked the record and kept it off the list",
    "cleansing": "the list was checked again against current records",
    "no_longer_qualifies": "the record no longer met the rules for the list",
    # events and what they caused (SPEC.md events)
    EventType.DECISION_OVERTURNED: "the decision about you was overturned",
    EventType.LEAVE_GRANTED: "you were granted permission to stay",
    EventType.EVIDENCE_RECEIVED: "new evidence about you arrived",
    EventType.RECORD_CORRECTED: "the record about you was corrected",
    EventType.DISPUTE_OPENED: "you (or someone for you) disputed the record",
    EventType.DISPUTE_RESOLVED: "the dispute was reported as resolved",
    RecallReason.DISPUTE_UPHELD: "your challenge was upheld",
    RecallReason.RE_REVIEW_UPHELD: "a fresh review found the record should not have been used",
    # the gate (docs/gate.md)
    Reason.NOT_ADMITTED: "your record is not on the list of people whose records may be shared",
    Reason.AGREEMENT_NOT_ACTIVE: "the sharing agreement was not in force",
    Reason.AGREEMENT_NOT_YET_VALID: "the sharing agreement had not started yet",
    Reason.AGREEMENT_REVIEW_OVERDUE: "the sharing agreement was overdue for its review",
    Reason.COHORT_EXCLUDED: "the agreement does not cover people in your group",
    Reason.FIREWALL_PROTECTED_SOURCE: "the information came from a protected service (health, "
    "education, or victims and witnesses of crime), which may never be used for enforcement",
    Reason.AGREEMENT_PAUSED: "sharing under the agreement was paused",
    Reason.COHORT_PAUSED: "sharing about people in your group was paused",
    Reason.PERSON_FROZEN: "sharing about you was frozen while something is checked",
    Reason.BELOW_REVIEW_THRESHOLD: "the records were not similar enough to be treated as a match",
    Reason.UNCERTAIN_MATCH: "the match was not certain enough to share without a person "
    "checking it",
    Reason.UNCORROBORATED_MATCH: "only your name and date of birth matched, which other people "
    "can share, so a person had to check it",
    Reason.AMBIGUOUS_MATCH: "another person's record looked almost as similar, so a person had "
    "to check which one was yours",
    Reason.LONG_RESIDENCE: "the records show you have lived here a long time, which a person "
    "had to weigh",
    Reason.AUTOMATIC_MATCH: "the records matched so closely that the rules allowed sharing "
    "without a person checking",
    Reason.REVIEW_APPROVED: "a person checked the match and approved it",
    Reason.TRUSTED_PATTERN: "the records matched in a way that people's checks of many earlier "
    "matches had shown to be reliable, and two people approved sharing such matches without "
    "a person checking each one",
    "rule:trusted_pattern": "the records matched in a way that people's checks of many "
    "earlier matches had shown to be reliable, and two people approved sharing such matches "
    "without a person checking each one",
    ReviewKind.SCORE_REVIEW: "a score calculated about you may only be shared after a person has "
    "checked it and its explanation",
    Reason.SCORE_ADVERSE_USE: "the score would be used for action against you, so a person had "
    "to check it first",
    RecallReason.SCORE_EXPIRED: "the score was older than the agreement allows, so it may "
    "no longer "
    "be relied on",
    RecallReason.SCORE_DESTROYED: "the score has been deleted, so it may no longer be relied on",
}

DECISIONS = {
    "grant": "permission was granted",
    "refusal": "an application was refused",
    "curtailment": "permission was cut short",
    "revocation": "permission was taken away",
    "information": "information was received about you",
}

LEAVE = {
    "none": "no permission to stay",
    "limited": "permission to stay for a limited time",
    "indefinite": "permission to stay with no time limit",
    "citizen": "citizenship",
}

APPEAL = {
    "none": "no appeal",
    "in_time": "an appeal can still be made",
    "pending": "an appeal is waiting to be decided",
    "allowed": "an appeal was allowed",
    "dismissed": "an appeal was dismissed",
    "exhausted": "all appeals have been used",
}

ACTIONS = {
    "revoked": "took away a licence",
    "stopped": "stopped a payment or benefit",
    "closed": "closed an account",
    "refused": "refused a service",
    "none": "took no action",
    "reinstated": "gave back a licence",
    "restored": "restored a payment or benefit",
    "reopened": "reopened an account",
}

REMEDY: dict[str, str] = {
    RemedyStatus.NONE_NEEDED: "nothing had been done against you on it, so there was nothing "
    "to undo",
    RemedyStatus.OUTSTANDING: "the organisation acted against you on it and has not yet told us "
    "it has undone that",
    RemedyStatus.REMEDIED: "the organisation has told us it undid what it did",
}

# A recall with no remedy to track although the recipient had acted on what it withdrew:
# the words must say what was done, and why nothing is owed, never "nothing was done".
REMEDY_NOT_OWED = (
    "the organisation had acted on it ({actions}); we withdrew it because {reason}, which "
    "does not mean it was wrong to share it, so we have not asked them to undo that"
)
REMEDY_ALREADY_UNDONE = (
    "the organisation had acted on it ({actions}) and had already told us it undid that"
)
REMEDY_NOT_TRACKED = (
    "the organisation had acted on it ({actions}); no remedy is recorded as owed for it"
)

# Why a person was put on the list.  Admission has no reason code of its own: a person
# with a decision against them (a refusal, curtailment or revocation) is admitted when
# no rule keeps them off (policy ``admission_rules``); the letter says exactly that.
ADMITTED_BECAUSE = "no rule that keeps a person off the list applied to you"
ADMITTED_ON = "{decision} on {day} (case record {case_id}), and " + ADMITTED_BECAUSE

DISCLOSURE_STATUS: dict[str, str] = {
    DisclosureStatus.ACTIVE: "still in force",
    DisclosureStatus.RECALLED: "withdrawn: we told the organisation it must no longer rely on it",
}

REVIEW_KINDS: dict[str, str] = {
    ReviewKind.MANUAL_CHECK: "a check of your record before it could be put on the list",
    ReviewKind.UNCERTAIN_MATCH: "a check of whether a record held by another organisation is yours",
    ReviewKind.AMBIGUOUS_MATCH: "a check of which of two similar records is yours",
    ReviewKind.LONG_RESIDENCE: "a check that weighed how long you have lived here",
    ReviewKind.DISPUTE: "your dispute",
    ReviewKind.RE_REVIEW: "a fresh review of the decision about you",
    ReviewKind.DISPUTE_RESOLUTION: "a check before sharing could start again after a dispute",
    ReviewKind.SCORE_REVIEW: "a check of a score calculated about you before it could be shared",
}

# The same kinds as staff name them (the workbench, the simulation's workload line).
STAFF_REVIEW_KINDS: dict[str, str] = {
    ReviewKind.MANUAL_CHECK: "Check before admission",
    ReviewKind.UNCERTAIN_MATCH: "Uncertain match",
    ReviewKind.AMBIGUOUS_MATCH: "Ambiguous match",
    ReviewKind.LONG_RESIDENCE: "Long residence",
    ReviewKind.DISPUTE: "Dispute",
    ReviewKind.RE_REVIEW: "Re-review after new facts",
    ReviewKind.DISPUTE_RESOLUTION: "Dispute reported resolved",
    ReviewKind.SCORE_REVIEW: "Score check",
}


def workload_words(counts: Mapping[str, int]) -> str:
    """Open review items in words: ``98 items: uncertain match 82, ambiguous match 8``."""
    shown = {k: v for k, v in counts.items() if v}
    if not shown:
        return "no items"
    total = sum(shown.values())
    parts = ", ".join(
        f"{STAFF_REVIEW_KINDS.get(k, spelled(k)).lower()} {v:,}"
        for k, v in sorted(shown.items(), key=lambda kv: -kv[1])
    )
    return f"{total:,} item{'s' if total != 1 else ''}: {parts}"


REVIEW_STATUS: dict[str, str] = {
    ItemStatus.OPEN: "still open",
    ItemStatus.APPROVED: "decided: the action against you was allowed to go ahead",
    ItemStatus.REJECTED: "decided in your favour: the action against you was stopped",
    ItemStatus.RELEASED: (
        "closed without a person: two staff had approved trusting this kind of match, "
        "which reviewers had found right many times before"
    ),
}

REVIEW_DECISION: dict[str, str] = dict(DECIDED)

DATA_CATEGORIES = {
    "immigration_casework": "immigration casework",
    "health": "a health service",
    "education": "a school or college",
    "victim_or_witness": "a record of you as a victim or witness of crime",
    "derived_score": "a score calculated about you",
    "police_intelligence": "police intelligence",
}

PURPOSES = {
    "immigration_enforcement": "enforcing immigration rules",
    "tax_enforcement": "enforcing tax rules",
    "benefit_enforcement": "enforcing benefit rules",
    "fraud_prevention": "preventing fraud",
    "safeguarding": "keeping people safe",
}

FIELDS = {
    "family_name": "family name",
    "given_names": "given names",
    "date_of_birth": "date of birth",
    "nationality": "nationality",
    "postcode": "postcode",
    "arrival_date": "date you arrived",
    "departure_date": "date you left",
    "decision": "decision",
    "decision_date": "date of the decision",
    "latest_decision": "latest decision",
    "latest_decision_date": "date of the latest decision",
    "refusal_reason": "reason for refusal",
    "appeal_status": "appeal",
    "leave": "permission to stay",
    "leave_expiry": "date the permission ends",
    "data_category": "where it came from",
    "record_id": "their reference",
}

RECIPIENTS = {
    "dvla": "the Driver and Vehicle Licensing Agency (driving licences)",
    "hmrc": "HM Revenue and Customs (tax, benefits and tax credits)",
    "bank": "your bank",
    "banks": "banks",
}

EVENT_TYPES: dict[str, str] = {k: REASONS[k] for k in EventType}  # fmt: skip

ITEM_KINDS = {
    "case": "a case record",
    "pool_status": "a change to whether your record could be shared",
    "disclosure": "a record of sharing",
    "action": "an action an organisation reported",
    "recall": "a correction sent to an organisation",
    "event": "something we were told about you",
    "review": "a review",
    "freeze": "a freeze on sharing",
    "score": "a score calculated about you",
    "identity": "a detail of who you are",
}


def spelled(code: str) -> str:
    """Words for a code no table knows: its parts, spaced (``no_leave_v2`` -> ``no leave v2``)."""
    words = re.sub(r"[_\-:.]+", " ", code).strip()
    return words or code


def words(table: Mapping[str, str], code: str | None) -> str:
    """The words for ``code`` in ``table``, else the code spelled out; empty for no code."""
    if code is None or code == "":
        return ""
    return table.get(code, spelled(code))


def reason(code: str) -> str:
    """A reason code in words; several codes joined by commas become a list of reasons."""
    if "," in code:
        return "; ".join(reason(c.strip()) for c in code.split(",") if c.strip())
    return words(REASONS, code)


def reasons(codes: Sequence[Any]) -> list[str]:
    return [reason(str(c)) for c in codes]


def field_name(name: str) -> str:
    return words(FIELDS, name)


def recipient(name: str) -> str:
    return words(RECIPIENTS, name)


def decided_by(value: str) -> str:
    """``rule:automatic`` or a list of reviewer names, in words."""
    if value.startswith("rule:"):
        rule = value.removeprefix("rule:")
        if rule in ("automatic", "auto"):
            return (
                "decided automatically by the agreement's matching rules, with no person checking"
            )
        if rule == Reason.TRUSTED_PATTERN:
            return (
                "decided automatically, with no person checking this match: the records matched "
                "in a way that people's checks of many earlier matches had shown to be reliable, "
                "and two people approved sharing such matches"
            )
        return f"decided automatically by the rule '{spelled(rule)}', with no person checking"
    names = [n.strip() for n in re.split(r"[,;]", value) if n.strip()]
    if not names:
        return "not recorded"
    if len(names) == 1:
        return f"approved by {names[0]}"
    return "approved by " + ", ".join(names[:-1]) + f" and {names[-1]}"


def reviewers(value: str) -> list[str]:
    """The reviewer names in a ``decided_by`` value; empty for a rule."""
    if value.startswith("rule:"):
        return []
    return [n.strip() for n in re.split(r"[,;]", value) if n.strip()]


# --- match scores ---------------------------------------------------------------------------

# Comparison names (the linkage features of linkage/features.py and SPEC.md's columns).
COMPARED = {
    "fam": "family name",
    "fam_c": "family name",
    "fam_sk": "family name",
    "family_name": "family name",
    "surname": "family name",
    "giv": "given names",
    "giv_c": "given names",
    "giv1": "first given name",
    "giv1_sk": "first given name",
    "given_names": "given names",
    "first_name": "first given name",
    "dob": "date of birth",
    "dob_sw": "date of birth",
    "date_of_birth": "date of birth",
    "pc": "postcode",
    "pc_sector": "postcode",
    "pc_district": "postcode",
    "postcode": "postcode",
    "began_before_arrival": "date the recipient's record began",
    "prior": "starting point",
    "tf_adjustment": "how common the name is",
}


def _first(entry: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in entry and entry[k] is not None:
            return entry[k]
    return None


# The level labels of accord.linkage.model, in words.
LEVELS = {
    "exact match": "was exactly the same",
    "family name missing": "was missing from one of the two records, so it counted neither way",
    "given names missing": "were missing from one of the two records, so they counted neither way",
    "date of birth unknown": "was missing from one of the two records, so it counted neither way",
    "postcode unknown": "was missing from one of the two records, so it counted neither way",
    "family and given names recorded the other way round": "matched, but with family and given "
    "names the other way round",
    "one family name is part of the other (double-barrelled)": "matched part of a "
    "double-barrelled name",
    "jaro-winkler >= 0.92": "was spelled almost the same (a small difference, such as one letter)",
    "same consonant skeleton": "was spelled differently but sounds alike",
    "jaro-winkler >= 0.8": "was spelled similarly, but with clear differences",
    "all other comparisons": "was different",
    "first given name matches (middle names dropped or differ)": "matched on the first given "
    "name, with middle names missing or different",
    "the same given names in another order, or some of them": "had the same given names in a "
    "different order, or only some of them",
    "first given name jaro-winkler >= 0.9": "had a first given name spelled almost the same",
    "first given name has the same consonant skeleton": "had a first given name spelled "
    "differently but sounding alike",
    "an initial matches the other's first given name": "matched only by an initial",
    "day and month swapped": "matched with day and month the other way round",
    "two of day, month and year agree": "agreed in two of day, month and year",
    "within a year": "was within a year",
    "same postcode sector": "was in the same postcode sector (the same few streets)",
    "same postcode district": "was in the same postcode district (the same area)",
    # linkage model version 2 (docs/linkage.md)
    "different": "was different",
    "spelt almost the same (jaro-winkler 0.92 or more)": "was spelled almost the same (a "
    "small difference, such as one letter)",
    "spelt similarly (jaro-winkler 0.8 or more)": "was spelled similarly, but with clear "
    "differences",
    "one letter different, missing, added or two letters swapped": "differed by one letter "
    "(one wrong, missing or added, or two swapped)",
    "family and given names recorded the other way round, spelt slightly differently": (
        "matched with family and given names the other way round, spelled slightly differently"
    ),
    "the family name is recorded as a given name on the other side": "was recorded as a "
    "given name on the other record",
    "first given name spelt almost the same (jaro-winkler 0.9 or more)": "had a first given "
    "name spelled almost the same",
    "first given name one letter different, missing, added or two letters swapped": "had a "
    "first given name differing by one letter",
    "first given name spelt similarly (jaro-winkler 0.8 or more)": "had a first given name "
    "spelled similarly, but with clear differences",
    "the first given name is recorded as the family name on the other side": "had the first "
    "given name recorded as the family name on the other record",
    "one digit mistyped, or two neighbouring digits swapped": "differed by one digit (one "
    "mistyped, or two neighbouring digits swapped)",
    "an earlier address the source holds for the person": "matched an earlier address on your file",
    "one character different, or two neighbouring characters swapped": "differed by one "
    "character (one wrong, or two swapped)",
    "same district (a uk outward code, or the first half of another format)": "was in the "
    "same district (the same area)",
    "no arrival or start date to compare": "could not be set against when you arrived, so it "
    "counted neither way",
    "the record began more than a year before the person's first recorded arrival": "began "
    "more than a year before you first arrived, as our records show",
    "the record began after the person's first recorded arrival": "began after you first arrived",
}


def level_words(label: str) -> str:
    """What a comparison level found, in words: Accord's own labels, else Splink's."""
    text = label.strip().lower()
    if text in LEVELS:
        return LEVELS[text]
    if "null" in text or "missing" in text or "unknown" in text:
        return "was missing from one of the two records, so it counted neither way"
    if "reversed" in text or "swap" in text or "other way round" in text:
        return "matched with two parts the other way round"
    if text in ("else", "all other comparisons") or "all other" in text:
        return "was different"
    if "exact" in text:
        return "was exactly the same"
    if any(s in text for s in ("jaro", "levenshtein", "damerau", "jaccard", "cosine", "similar")):
        return "was spelled similarly but not exactly the same"
    if "skeleton" in text or "sound" in text:
        return "was spelled differently but sounds alike"
    if "sector" in text or "district" in text:
        return "was in the same area"
    if "difference" in text or "within" in text:
        return "was close but not exactly the same"
    return f"was compared ({label})"


def _effect_words(weight: float) -> str:
    """A match weight (log2 of how many times more likely) as words: how much by its size
    (6 or more much, 2 or more plain, 0.5 or more slightly), which way by its sign."""
    size = abs(weight)
    if size < 0.5:
        return "made little difference either way"
    degree = "much " if size >= 6 else "" if size >= 2 else "slightly "
    direction = "more" if weight > 0 else "less"
    times = 2**size
    factor = f"{times:,.0f}" if times >= 10 else f"{times:.1f}"
    return (
        f"made it {degree}{direction} likely that the two records are the same person "
        f"(about {factor} times {direction} likely)"
    )


def comparison_lines(explanation: Sequence[Any]) -> list[dict[str, Any]]:
    """Each entry of a match's waterfall as ``{what, found, effect, weight, ours, theirs}``.

    Reads the entries accord.linkage writes (``comparison``, ``level``, ``match_weight``,
    ``value_pool``, ``value_register``), and Splink's own waterfall names
    (``column_name``, ``label_for_charts``, ``log2_bayes_factor``/``bayes_factor``,
    ``value_l``, ``value_r``) as well.
    """
    lines: list[dict[str, Any]] = []
    for entry in explanation:
        if not isinstance(entry, Mapping):
            continue
        name = str(_first(entry, "comparison", "column_name", "name", "output_column_name") or "")
        label = str(_first(entry, "level", "label", "label_for_charts", "comparison_level") or "")
        weight = _first(entry, "match_weight", "log2_bayes_factor", "weight")
        if weight is None and isinstance(entry.get("bayes_factor"), int | float):
            bf = float(entry["bayes_factor"])
            weight = math.log2(bf) if bf > 0 else None
        w = float(weight) if isinstance(weight, int | float) else None
        ours = _first(entry, "value_pool", "value_l")
        theirs = _first(entry, "value_register", "value_r")
        effect = _effect_words(w) if w is not None and math.isfinite(w) else ""
        key = name.lower()
        if key == "prior":
            found = (
                "Before comparing anything, two records picked at random are very unlikely "
                "to be about the same person"
            )
            what = "starting point"
            effect = ""
        elif key.startswith("tf_"):
            what = COMPARED.get(key.removeprefix("tf_"), spelled(key.removeprefix("tf_")))
            found = f"How common the {what} is: a common {what} is weaker evidence than a rare one"
            ours = theirs = None  # shown once, on the comparison itself
        elif key == "corroboration":
            what = "corroboration"
            found = (
                "Names, date of birth and full postcode did not all agree, so the score was "
                "capped to make sure a person checked the match"
            )
        elif key == "name_frequency":
            what = "how common the name is"
            found = (
                f"{_others(ours)} in the recipient's records had the same family and given "
                "name, so the name is commoner than each part alone suggests"
            )
            ours = theirs = None
        elif key == "other_way_round":
            what = "names the other way round"
            found = (
                "Names recorded the other way round count for no more than the same names "
                "recorded in their places"
            )
        elif key == "heaped_date":
            what = "a 1 January birthday"
            found = (
                "1 January is often recorded when a date of birth is not known, and it is "
                "commoner among people with your names, so it is weaker evidence"
            )
        elif key == "lookalikes":
            what = "people who look alike"
            found = (
                "Someone else in the recipient's records could have the same names and date "
                "of birth; the commoner they are, the likelier that is"
            )
        elif key == "candidates":
            what = "other possibilities"
            found = (
                "What else the record could be: other close records or people, and the "
                "chance that you have no record with this recipient at all"
            )
        else:
            what = COMPARED.get(key, spelled(name) if name else "a detail")
            found = f"The {what} {level_words(label or name)}"
        lines.append(
            {
                "what": what,
                "found": found,
                "effect": effect,
                "weight": w,
                "ours": None if ours is None else str(ours),
                "theirs": None if theirs is None else str(theirs),
            }
        )
    return lines


def _others(count: Any) -> str:
    try:
        n = int(count)
    except (TypeError, ValueError):
        return "Other people"
    return "One other person" if n == 1 else f"{n:,} other people"


def percent(p: float) -> str:
    """A probability as a percentage with just enough digits never to round up to 100%."""
    if p >= 1:
        return "100%"
    for digits in range(1, 7):
        shown = round(p * 100, digits)
        if shown < 100:
            text = f"{shown:.{digits}f}".rstrip("0").rstrip(".")
            return f"{text}%"
    return "more than 99.9999%"


def country(code: str) -> str:
    """An ISO 3166-1 alpha-3 (or travel-document) code as the country's name."""
    special = {
        "XXA": "stateless", "XXB": "refugee", "XXC": "refugee (other)", "XXX": "unspecified",
        "GBD": "British Overseas Territories citizen", "GBN": "British National (Overseas)",
        "GBO": "British Overseas citizen", "GBP": "British protected person",
        "GBS": "British subject", "RKS": "Kosovo",
    }  # fmt: skip
    if code in special:
        return special[code]
    found = pycountry.countries.get(alpha_3=code)
    if found is None:
        return code
    return str(getattr(found, "common_name", None) or found.name)


# A match probability's judgement: the first whose threshold it reaches, else "unlikely".
_JUDGEMENTS = (
    (0.999, "almost certain"),
    (0.99, "very likely"),
    (0.9, "likely but not certain"),
    (0.5, "more likely than not, but far from certain"),
)


def probability_words(p: float) -> str:
    """A match probability as a judgement and a frequency a person can picture."""
    if not math.isfinite(p):
        return "The match score was not recorded."
    pct = percent(p)
    judged = next((words for at, words in _JUDGEMENTS if p >= at), "unlikely")
    miss = 1.0 - p
    if miss <= 0:
        chance = "no measurable chance that it is someone else"
    else:
        one_in = 1.0 / miss
        chance = (
            f"about 1 in {_round_nicely(one_in):,} records matched this closely "
            "could be someone else"
        )
    return f"We judged it {judged} ({pct}) that the record is about you: {chance}."


def _round_nicely(x: float) -> int:
    """Two significant figures, so a frequency reads as an estimate (1 in 2,000, not 1,996)."""
    if x < 10:
        return max(1, round(x))
    digits = math.floor(math.log10(x)) - 1
    return int(round(x, -digits))


FLAGS: dict[str, str] = {
    "ambiguous": "Another person's record looked almost as similar, so a person had to check "
    "which record was yours.",
    Reason.AMBIGUOUS_MATCH: "Another person's record looked almost as similar, so a person "
    "had to check which record was yours.",
    Reason.LONG_RESIDENCE: "Their record shows a long relationship with you (for example a "
    "licence held for many years), which is evidence that you have lived here a long time.",
}


def flags(codes: Sequence[Any]) -> list[str]:
    return [FLAGS.get(str(c), spelled(str(c)).capitalize() + ".") for c in codes]
