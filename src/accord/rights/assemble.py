"""Everything held and shared about one person, written as one typed document (F10).

The document answers the questions a person refused a service asks: what is held about
me and where did it come from; was I put on the list, and why; who was told what, under
which agreement, how sure were you that it was me, and who decided; what did they do;
what was corrected and has the harm been undone; what is kept from me and why; how do
I challenge it.  Each disclosure and recall carries a self-contained inclusion proof
against a signed tree head, so the report can be checked against the ledger by anyone,
without trusting this database (``accord ledger check-proof FILE``).

What it is written from is the person file (`accord.personfile`), the one read of
everything about a person that the caseworker's page and the people API show too; this
module decides what of it the person's own report shows, and in which words.

Reading is all this module does, apart from one audit entry per report produced (who
asked for whose report, when, and a digest of exactly what was produced): a report
never signs a tree head or touches any other table.  An item under an exemption is not
dropped: it moves to ``withheld`` with the exemption, its justification and who applied
it, and the report's audit entry names it.  A withheld disclosure takes its recall and
the recipient's actions with it, since they would reveal it.

``as_of`` makes a report as it would have been at the end of that day: anything dated
later is left out (by its own date where it has one: a recipient's action date, an
event's date, a pool change's as-of date; else by when it was recorded) and statuses
are those of that day; exemptions are those in force when the report is
produced, so an earlier date can never reveal what is withheld now.  Without ``as_of``
everything is included.  Case data and the derived identity are shown as held now
(their history is the case list).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection

from accord import auditlog, personfile
from accord.admission import ADVERSE as ADVERSE_DECISIONS
from accord.admission import PROVENANCE_KEY
from accord.clock import business_time
from accord.errors import AccordError
from accord.formats.schema import ADVERSE_ACTIONS, REVERSAL_ACTIONS
from accord.ledger import keys, signing
from accord.ledger import log as ledger_log
from accord.personfile import DisclosureRow, PersonFile, RecallRow, ReviewItemRow
from accord.remedy import NOT_WRONGFUL
from accord.rights import explain, render
from accord.rights.document import (
    ActionShown,
    AgreementCited,
    CaseHeld,
    Challenge,
    Comparison,
    Decider,
    DisclosureShown,
    EventShown,
    FieldSent,
    FirewallShown,
    FreezeShown,
    Held,
    HeldValue,
    MatchExplained,
    PoolChange,
    PoolStanding,
    RecallShown,
    ReportMeta,
    ReviewerDecision,
    ReviewShown,
    ScoreHeld,
    SubjectAccessReport,
    Withheld,
)
from accord.rights.exemptions import active_exemptions
from accord.store import db
from accord.store.models import as_utc
from accord.vocab import DisclosureStatus, ItemStatus, PoolStatus, RemedyStatus, ReviewKind

FORMAT = "accord-subject-access/1"
AUDIT_ACTION = "subject_access"
MATCH_REVIEW_KINDS = (
    ReviewKind.UNCERTAIN_MATCH,
    ReviewKind.AMBIGUOUS_MATCH,
    ReviewKind.LONG_RESIDENCE,
)
SCORE_REVIEW_KIND = (
    ReviewKind.SCORE_REVIEW
)  # a derived score a person approved before it was shared
DISPUTE_KINDS = (ReviewKind.DISPUTE, ReviewKind.RE_REVIEW, ReviewKind.DISPUTE_RESOLUTION)
IDENTITY_FIELDS = (
    "family_name", "given_names", "date_of_birth", "nationality", "postcode", "arrival_date",
    "latest_decision", "latest_decision_date", "refusal_reason", "appeal_status", "leave",
    "leave_expiry", "departure_date",
)  # fmt: skip
CASE_FIELDS = (
    "family_name", "given_names", "date_of_birth", "nationality", "postcode", "decision",
    "decision_date", "refusal_reason", "appeal_status", "leave", "leave_expiry",
    "arrival_date", "departure_date",
)  # fmt: skip
CODE_WORDS: dict[str, Mapping[str, str]] = {
    "decision": explain.DECISIONS,
    "latest_decision": explain.DECISIONS,
    "refusal_reason": explain.REASONS,
    "appeal_status": explain.APPEAL,
    "leave": explain.LEAVE,
}


# --- gathering -------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """A JSON column's value; some writers store JSON text in it, so that is parsed."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _codes(value: Any) -> list[str]:
    parsed = _json(value)
    if isinstance(parsed, list):
        return [str(c) for c in parsed]
    return [] if parsed in (None, "") else [str(parsed)]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _value_words(field: str, value: Any) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    if field == "nationality":
        return explain.country(str(value))
    table = CODE_WORDS.get(field)
    if table is not None:
        return explain.words(table, str(value))
    return str(value)


def _held_value(field: str, value: Any, case_id: str | None, category: str) -> HeldValue:
    return HeldValue(
        field=field,
        field_words=explain.field_name(field),
        value=_text(value),
        value_words=_value_words(field, value),
        source_case_id=case_id,
        data_category=category,
        data_category_words=explain.words(explain.DATA_CATEGORIES, category),
    )


def _provenance(
    entry: Any, categories: Mapping[str, str]
) -> tuple[str | None, str, str | None, dt.date | None]:
    """(case_id, data category, event type, event date) of one ``people.provenance``
    entry: a case id, ``{case_id, data_category}``, or ``{event_type, event_date}`` for a
    value known only from an event (`accord.admission`)."""
    if isinstance(entry, Mapping) and entry.get("case_id") is None and entry.get("event_type"):
        try:
            day = dt.date.fromisoformat(str(entry.get("event_date")))
        except ValueError:
            day = None
        return None, "not recorded", str(entry["event_type"]), day
    if isinstance(entry, Mapping):
        case_id = entry.get("case_id")
        category = entry.get("data_category") or categories.get(str(case_id), "")
        return (
            (str(case_id) if case_id is not None else None),
            str(category or "not recorded"),
            None,
            None,
        )
    if isinstance(entry, str):
        return entry, categories.get(entry, "not recorded"), None, None
    return None, "not recorded", None, None


class _Cutoff:
    """The end of the ``as_of`` day in UTC, or no cut-off at all."""

    def __init__(self, as_of: dt.date | None) -> None:
        self.as_of = as_of
        self.end = (
            None
            if as_of is None
            else dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
        )

    def before(self, value: dt.datetime | None) -> bool:
        """Whether ``value`` happened by the cut-off (None: it has not happened)."""
        if value is None:
            return False
        return self.end is None or as_utc(value) < self.end

    def on_or_before(self, value: dt.date | None) -> bool:
        if value is None:
            return False
        return self.as_of is None or value <= self.as_of


class _Withholding:
    """The exemptions in force on the person's items now, and every item a report
    withholds under them, in the order the report meets them."""

    def __init__(self, exemptions: Sequence[Any]) -> None:
        self.exemptions = {(e.item_kind, e.item_ref): e for e in exemptions}
        self.withheld: list[Withheld] = []

    def exempt(self, kind: str, ref: str) -> bool:
        """Whether an exemption is in force on the item itself (nothing is recorded)."""
        return (kind, ref) in self.exemptions

    def __call__(self, kind: str, ref: str, via: tuple[str, str] | None = None) -> bool:
        """Whether the item is withheld, by its own exemption or by ``via``'s (the item
        it would reveal), recording it in :attr:`withheld` if so."""
        row = self.exemptions.get((kind, ref))
        if row is not None:
            self.withheld.append(_withheld_record(row, kind, ref))
            return True
        if via is not None and via in self.exemptions:
            self.withheld.append(
                _withheld_record(self.exemptions[via], kind, ref, f"{via[0]}:{via[1]}")
            )
            return True
        return False

    def was_withheld(self, kind: str, ref: str) -> bool:
        return any(w.item_kind == kind and w.item_ref == ref for w in self.withheld)


def _withheld_record(row: Any, kind: str, ref: str, withheld_with: str | None = None) -> Withheld:
    return Withheld(
        item_kind=kind,
        item_ref=ref,
        item_words=explain.words(explain.ITEM_KINDS, kind),
        exemption=row.exemption,
        justification=row.justification,
        applied_by=row.applied_by,
        applied_at=as_utc(row.applied_at),
        withheld_with=withheld_with,
    )


def _reviews(
    file: PersonFile, cut: _Cutoff
) -> tuple[list[ReviewItemRow], dict[str, list[ReviewerDecision]]]:
    """The review items opened by the cut-off, and each one's decisions made by then."""
    items = [r for r in file.review_items if cut.before(r.created_at)]
    ids = {r.item_id for r in items}
    decisions: dict[str, list[ReviewerDecision]] = {}
    for d in file.review_decisions:
        if d.item_id not in ids or not cut.before(d.decided_at):
            continue
        decisions.setdefault(d.item_id, []).append(
            ReviewerDecision(
                item_id=d.item_id,
                reviewer=d.reviewer,
                decision=d.decision,
                decision_words=explain.words(explain.REVIEW_DECISION, d.decision),
                reason=d.reason,
                decided_at=d.decided_at,
            )
        )
    return items, decisions


def _agreement(
    versions: Mapping[tuple[str, int], Any], agreement_id: str, version: int
) -> AgreementCited:
    row = versions.get((agreement_id, version))
    parsed = _json(row.document) if row is not None else None
    doc: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
    purpose = str(doc.get("purpose") or "not recorded")
    fields = doc.get("fields") or []
    return AgreementCited(
        agreement_id=agreement_id,
        version=version,
        title=str(doc.get("title") or agreement_id),
        purpose=purpose,
        purpose_words=explain.words(explain.PURPOSES, purpose),
        legal_basis=str(doc.get("legal_basis") or "not recorded"),
        agreed_fields=[str(f) for f in fields] if isinstance(fields, list) else [],
        content_sha256=row.content_sha256 if row is not None else None,
    )


def _match(match: Any | None, probability: float, disclosure: Any) -> MatchExplained:
    parsed = _json(match.explanation) if match is not None else []
    explanation = list(parsed) if isinstance(parsed, list) else []
    flags = _codes(match.flags) if match is not None else []
    return MatchExplained(
        match_id=int(match.id) if match is not None else disclosure.match_id,
        probability=probability,
        probability_words=explain.probability_words(probability),
        flags=flags,
        flags_words=explain.flags(flags),
        comparisons=[Comparison(**c) for c in explain.comparison_lines(explanation)],
        their_record=_record(match),
        explanation=explanation,
    )


def _remedy_words(remedy: str, reason: str, acted: Sequence[str]) -> str:
    """What putting a recall right means, in words that agree with what the recipient did.

    No remedy is tracked for a recall that does not mean the sharing was wrong (a
    departure, an expired score) or one whose action was already undone: the words then
    say what was done and why nothing is owed, never that nothing was done.
    """
    adverse = [a for a in acted if a in ADVERSE_ACTIONS]
    if remedy != RemedyStatus.NONE_NEEDED or not adverse:
        return explain.words(explain.REMEDY, remedy)
    done = "; ".join(dict.fromkeys(explain.words(explain.ACTIONS, a) for a in adverse))
    if acted[-1] in REVERSAL_ACTIONS:
        return explain.REMEDY_ALREADY_UNDONE.format(actions=done)
    if reason in NOT_WRONGFUL:
        return explain.REMEDY_NOT_OWED.format(actions=done, reason=explain.reason(reason))
    return explain.REMEDY_NOT_TRACKED.format(actions=done)


def _record(match: Any | None) -> dict[str, Any]:
    parsed = _json(match.record) if match is not None else None
    return dict(parsed) if isinstance(parsed, Mapping) else {}


def _decider(
    decided_by: str, items: Sequence[Any], decisions: Mapping[str, list[ReviewerDecision]]
) -> Decider:
    names = explain.reviewers(decided_by)
    made = [d for item in items for d in decisions.get(item.item_id, [])]
    return Decider(
        decided_by=decided_by,
        kind="rule" if not names else "reviewers",
        words=explain.decided_by(decided_by),
        reviewers=names,
        decisions=made,
    )


def _proof_key(
    conn: Connection, key: Ed25519PrivateKey | Ed25519PublicKey | None
) -> Ed25519PublicKey:
    """The public key proofs are made with: never the private key, so no head is ever signed.

    By default the database's ledger key, found as `accord.ledger.keys` says.
    """
    if key is None:
        return signing.load_public_key(keys.resolve(conn))
    return signing.public_of(key)


def _challenge(person_id: str, open_disputes: list[str], frozen: bool) -> Challenge:
    return Challenge(
        route="Tell us you dispute it. You do not need a lawyer, and it costs nothing.",
        send=[
            f"your reference: {person_id}",
            "which item in this letter you think is wrong (each has its own reference)",
            "why it is wrong, and any evidence you have, such as a letter granting you "
            "permission to stay, proof of an appeal, or proof of how long you have lived here",
        ],
        where="Send it to the data protection officer of the organisation that sent you this "
        "letter, by post or email, quoting your reference. Anyone you trust (an adviser, a "
        "solicitor, a friend) may send it for you with your permission.",
        what_happens_next=[
            "We record your dispute the day it arrives. From then on nothing more about you "
            "is shared with any organisation until it is resolved.",
            "A person who took no part in the original decision reviews it, with your evidence.",
            "If the review finds the record was wrong, we take you off the list and tell every "
            "organisation that received it to undo what they did (for example to give back a "
            "driving licence or reopen an account), and we follow it up until they confirm.",
            "If the review finds the record was right, two reviewers must agree before sharing "
            "can start again, and we write to tell you why.",
            "If you are unhappy with the outcome you can complain to the Information "
            "Commissioner's Office, the independent regulator for personal data.",
        ],
        your_reference=person_id,
        open_disputes=open_disputes,
        sharing_frozen=frozen,
    )


def _identity(file: PersonFile, withhold: _Withholding) -> list[HeldValue]:
    """The derived identity, each value with the case record or event it came from."""
    person = file.person
    if person is None:
        return []
    categories = {c.case_id: c.data_category for c in file.cases}
    parsed = _json(person.provenance)
    provenance: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
    identity: list[HeldValue] = []
    for f in IDENTITY_FIELDS:
        value = getattr(person, f)
        if value is None:
            continue
        case_id, category, event_type, event_date = _provenance(
            provenance.get(PROVENANCE_KEY.get(f, f)), categories
        )
        if case_id is not None and withhold("identity", f, ("case", case_id)):
            continue  # it would show what the withheld case record holds
        held = _held_value(f, value, case_id, category)
        if event_type is not None:
            event = next(
                (e for e in file.events
                 if e.event_type == event_type and e.event_date == event_date),
                None,
            )  # fmt: skip
            if event is not None and withhold("identity", f, ("event", event.event_id)):
                continue  # it would show what the withheld event says
            held = held.model_copy(
                update={
                    "source_event_id": event.event_id if event is not None else None,
                    "source_event_date": event_date,
                    "source_event_words": explain.words(explain.EVENT_TYPES, event_type),
                }
            )
        identity.append(held)
    return identity


def _cases(file: PersonFile, withhold: _Withholding) -> list[CaseHeld]:
    cases: list[CaseHeld] = []
    for c in file.cases:
        if withhold("case", c.case_id):
            continue
        values = [
            _held_value(f, getattr(c, f), c.case_id, c.data_category)
            for f in CASE_FIELDS
            if getattr(c, f) is not None
        ]
        values += [
            _held_value(str(k), v, c.case_id, c.data_category)
            for k, v in sorted((c.extra or {}).items())
            if v is not None and v != ""
        ]
        cases.append(
            CaseHeld(
                case_id=c.case_id,
                decision=c.decision,
                decision_words=explain.words(explain.DECISIONS, c.decision),
                decision_date=c.decision_date,
                data_category=c.data_category,
                data_category_words=explain.words(explain.DATA_CATEGORIES, c.data_category),
                values=values,
                destroyed_at=c.destroyed_at,
            )
        )
    return cases


def _scores(file: PersonFile, cut: _Cutoff, withhold: _Withholding) -> list[ScoreHeld]:
    """The derived scores computed by the cut-off, each with the disclosures shown that
    carried it."""
    disclosed_in: dict[str, list[str]] = {}
    for d in file.disclosures:
        if (
            d.score_id
            and cut.before(d.disclosed_at)
            and not withhold.exempt("disclosure", d.disclosure_id)
        ):
            disclosed_in.setdefault(d.score_id, []).append(d.disclosure_id)
    return [
        ScoreHeld(
            score_id=s.score_id, kind=s.kind, value=s.value, role=s.role,
            explanation=dict(s.explanation or {}), computed_at=s.computed_at,
            retain_until=s.retain_until, destroyed_at=s.destroyed_at,
            disclosed_in=disclosed_in.get(s.score_id, []),
        )
        for s in file.scores
        if cut.on_or_before(s.computed_at) and not withhold("score", s.score_id)
    ]  # fmt: skip


def _pool(
    file: PersonFile, cut: _Cutoff, withhold: _Withholding, as_of: dt.date | None
) -> PoolStanding:
    """Every change of the person's standing on the list, and where they stand at the
    cut-off, with the grounds for it in words."""
    history_rows = [h for h in file.pool_history if cut.on_or_before(h.as_of)]
    decided = sorted(
        (c for c in file.cases if c.decision != "information"),
        key=lambda c: (c.decision_date, c.case_id),
    )

    def grounds(status: str, on: dt.date) -> tuple[str | None, str | None]:
        """Why a person was admitted as of ``on``: the latest decision then, as admission
        orders them (decision date, then case id), when it was against them."""
        if status != PoolStatus.ADMITTED:
            return None, None
        latest = None
        for c in decided:
            if c.decision_date <= on:
                latest = c
        if (
            latest is None
            or latest.decision not in ADVERSE_DECISIONS
            or withhold.exempt("case", latest.case_id)
        ):
            return None, explain.ADMITTED_BECAUSE
        return latest.case_id, explain.ADMITTED_ON.format(
            decision=explain.words(explain.DECISIONS, latest.decision),
            day=_value_words("decision_date", latest.decision_date),
            case_id=latest.case_id,
        )

    history = []
    for h in history_rows:
        if withhold("pool_status", str(h.id)):
            continue
        grounds_case, grounds_words = grounds(h.status, h.as_of)
        history.append(
            PoolChange(
                pool_change_id=int(h.id),
                status=h.status,
                status_words=explain.words(explain.POOL_STATUS, h.status),
                reasons=_codes(h.reasons),
                reasons_words=explain.reasons(_codes(h.reasons)),
                as_of=h.as_of,
                at=h.at,
                run_id=h.run_id,
                grounds_case_id=grounds_case,
                grounds_words=grounds_words,
            )
        )
    entry = file.pool
    if as_of is None and entry is not None:
        current: str | None = entry.status
        current_reasons = _codes(entry.reasons)
        standing_since: dt.date | None = entry.as_of
    elif history_rows:
        current = history_rows[-1].status
        current_reasons = _codes(history_rows[-1].reasons)
        standing_since = history_rows[-1].as_of
    else:
        current, current_reasons, standing_since = None, [], None
    if history_rows and withhold.was_withheld("pool_status", str(history_rows[-1].id)):
        current, current_reasons = None, []  # the latest change is withheld: so is its result
    return PoolStanding(
        current_status=current,
        current_words=explain.words(explain.POOL_STATUS, current)
        if current
        else "no decision about the list is shown",
        reasons=current_reasons,
        reasons_words=explain.reasons(current_reasons),
        history=history,
        grounds_words=grounds(current, standing_since)[1]
        if current is not None and standing_since is not None
        else None,
    )


def _disclosures(
    conn: Connection,
    file: PersonFile,
    shown: Sequence[DisclosureRow],
    recall_of: Mapping[str, RecallRow],
    reviews: tuple[Sequence[ReviewItemRow], Mapping[str, list[ReviewerDecision]]],
    public: Ed25519PublicKey,
) -> list[DisclosureShown]:
    """Each disclosure shown, with its agreement, match, who decided and its proof."""
    versions = {(v.agreement_id, int(v.version)): v for v in file.agreement_versions}
    match_by_id = {int(m.id): m for m in file.matches}
    match_by_record = {(m.register, m.record_id): m for m in file.matches}  # the latest wins
    review_rows, decisions = reviews
    items_for: dict[tuple[str | None, str | None], list[ReviewItemRow]] = {}
    score_items_for: dict[tuple[str | None, str | None, str | None], list[ReviewItemRow]] = {}
    for item in review_rows:
        if item.kind in MATCH_REVIEW_KINDS:
            items_for.setdefault((item.agreement_id, item.record_id), []).append(item)
        elif item.kind == SCORE_REVIEW_KIND:
            about = (item.agreement_id, item.record_id, item.score_id)
            score_items_for.setdefault(about, []).append(item)
    disclosures: list[DisclosureShown] = []
    for d in shown:
        match = match_by_id.get(int(d.match_id)) if d.match_id is not None else None
        if match is None:
            match = match_by_record.get((d.recipient, d.record_id))
        sent = _json(d.fields)
        fields = dict(sent) if isinstance(sent, Mapping) else {}
        recall = recall_of.get(d.disclosure_id)
        status: str = DisclosureStatus.RECALLED if recall is not None else DisclosureStatus.ACTIVE
        disclosures.append(
            DisclosureShown(
                disclosure_id=d.disclosure_id,
                recipient=d.recipient,
                recipient_words=explain.recipient(d.recipient),
                record_id=d.record_id,
                disclosed_at=d.disclosed_at,
                status=status,
                status_words=explain.words(explain.DISCLOSURE_STATUS, status),
                agreement=_agreement(versions, d.agreement_id, int(d.agreement_version)),
                fields=fields,
                fields_words=[
                    FieldSent(field=k, field_words=explain.field_name(k), value=v)
                    for k, v in fields.items()
                ],
                match=_match(match, float(d.match_probability), d),
                decided=_decider(
                    d.decided_by,
                    score_items_for.get((d.agreement_id, d.record_id, d.score_id), [])
                    if d.score_id
                    else items_for.get((d.agreement_id, d.record_id), []),
                    decisions,
                ),
                ledger_index=int(d.ledger_index),
                recall_id=recall.recall_id if recall is not None else None,
                proof=ledger_log.proof_bundle(conn, "disclosure", d.disclosure_id, key=public),
            )
        )
    return disclosures


def _actions(
    file: PersonFile, disclosed: set[str], cut: _Cutoff, withhold: _Withholding
) -> list[ActionShown]:
    """What recipients did on the disclosures made by the cut-off, by the cut-off."""
    return [
        ActionShown(
            action_id=int(a.id), disclosure_id=a.disclosure_id, recipient=a.recipient,
            recipient_words=explain.recipient(a.recipient), action=a.action,
            action_words=explain.words(explain.ACTIONS, a.action), action_date=a.action_date,
            recorded_at=a.recorded_at,
        )
        for a in file.actions
        if a.disclosure_id in disclosed
        and cut.on_or_before(a.action_date)
        and not withhold("action", str(a.id), ("disclosure", a.disclosure_id))
    ]  # fmt: skip


def _recalls(
    conn: Connection,
    recall_rows: Sequence[RecallRow],
    actions: Sequence[ActionShown],
    cut: _Cutoff,
    withhold: _Withholding,
    public: Ed25519PublicKey,
) -> list[RecallShown]:
    """Every recall shown, with its remedy in words that agree with what was done."""
    acted_on: dict[str, list[str]] = {}
    for shown_action in actions:
        acted_on.setdefault(shown_action.disclosure_id, []).append(shown_action.action)
    recalls: list[RecallShown] = []
    for r in recall_rows:
        if withhold("recall", r.recall_id, ("disclosure", r.disclosure_id)):
            continue
        remedy = r.remedy_status
        if remedy == RemedyStatus.REMEDIED and not cut.before(r.remedied_at):
            remedy = RemedyStatus.OUTSTANDING  # remedied only after the cut-off
        acted = acted_on.get(r.disclosure_id, [])
        recalls.append(
            RecallShown(
                recall_id=r.recall_id,
                disclosure_id=r.disclosure_id,
                recipient=r.recipient,
                recipient_words=explain.recipient(r.recipient),
                reason=r.reason,
                reason_words=explain.reason(r.reason),
                event_id=r.event_id,
                recalled_at=r.recalled_at,
                remedy_status=remedy,
                remedy_words=_remedy_words(remedy, r.reason, acted),
                remedied_at=r.remedied_at if remedy == RemedyStatus.REMEDIED else None,
                ledger_index=int(r.ledger_index),
                proof=ledger_log.proof_bundle(conn, "recall", r.recall_id, key=public),
                acted=acted,
            )
        )
    return recalls


def _reviews_shown(
    review_rows: Sequence[ReviewItemRow],
    decisions: Mapping[str, list[ReviewerDecision]],
    cut: _Cutoff,
    withhold: _Withholding,
) -> list[ReviewShown]:
    """Each review item, with its status and decisions as they stood at the cut-off."""
    reviews: list[ReviewShown] = []
    for item in review_rows:
        if withhold("review", item.item_id):
            continue
        closed = cut.before(item.closed_at)
        status = item.status if closed or item.status == ItemStatus.OPEN else ItemStatus.OPEN
        reviews.append(
            ReviewShown(
                item_id=item.item_id, kind=item.kind,
                kind_words=explain.words(explain.REVIEW_KINDS, item.kind), status=status,
                status_words=explain.words(explain.REVIEW_STATUS, status), reason=item.reason,
                agreement_id=item.agreement_id, record_id=item.record_id,
                created_at=item.created_at, closed_at=item.closed_at if closed else None,
                decisions=decisions.get(item.item_id, []),
            )
        )  # fmt: skip
    return reviews


def _freezes(file: PersonFile, cut: _Cutoff, withhold: _Withholding) -> list[FreezeShown]:
    freezes: list[FreezeShown] = []
    for fr in file.freezes:
        if not cut.before(fr.opened_at) or withhold("freeze", str(fr.id)):
            continue
        lifted = cut.before(fr.lifted_at)
        freezes.append(
            FreezeShown(
                freeze_id=int(fr.id),
                reason=fr.reason,
                reason_words=explain.reason(fr.reason),
                event_id=fr.event_id,
                review_item_id=fr.review_item_id,
                opened_at=fr.opened_at,
                lifted_at=fr.lifted_at if lifted else None,
                lifted_by=fr.lifted_by if lifted else None,
                open=not lifted,
            )
        )
    return freezes


def build(
    conn: Connection,
    person_id: str,
    *,
    as_of: dt.date | None = None,
    produced_by: str = "accord",
    produced_at: dt.datetime | None = None,
    key: Ed25519PrivateKey | Ed25519PublicKey | None = None,
) -> SubjectAccessReport:
    """The report about ``person_id`` from the database as it stands; reads only.

    Everything comes from the person file (`accord.personfile`); this applies the
    exemptions in force and the cut-off, and puts each part into words.  ``key`` is the
    ledger key proofs are checked under (default: the configured ledger key file; only
    its public half is used).  AccordError for an unknown person, or when a disclosure
    or recall is not yet covered by a signed tree head.
    """
    file = personfile.read(conn, person_id)
    if not file.known:
        raise AccordError(
            f"no person {person_id!r} is known to Accord: no case record, pool entry or "
            "disclosure has that id"
        )
    cut = _Cutoff(as_of)
    public = _proof_key(conn, key)
    # Exemptions in force now, whatever ``as_of`` says: withholding is decided when a
    # report is produced, so asking for an earlier day cannot get round it.  The order
    # below is the order withheld items are listed in.
    withhold = _Withholding(active_exemptions(conn, person_id))
    identity = _identity(file, withhold)
    cases = _cases(file, withhold)
    scores = _scores(file, cut, withhold)
    destroyed = [d for d in file.destroyed if cut.before(d.at)]
    pool = _pool(file, cut, withhold, as_of)
    reviews = _reviews(file, cut)
    disclosure_rows = [d for d in file.disclosures if cut.before(d.disclosed_at)]
    recall_rows = [r for r in file.recalls if cut.before(r.recalled_at)]
    shown = [d for d in disclosure_rows if not withhold("disclosure", d.disclosure_id)]
    disclosures = _disclosures(
        conn, file, shown, {r.disclosure_id: r for r in recall_rows}, reviews, public
    )
    actions = _actions(file, {d.disclosure_id for d in disclosure_rows}, cut, withhold)
    recalls = _recalls(conn, recall_rows, actions, cut, withhold, public)
    events = [
        EventShown(
            event_id=e.event_id, event_type=e.event_type,
            event_words=explain.words(explain.EVENT_TYPES, e.event_type),
            event_date=e.event_date, detail=e.detail, applied_at=e.applied_at,
        )
        for e in file.events
        if cut.on_or_before(e.event_date) and not withhold("event", e.event_id)
    ]  # fmt: skip
    review_shown = _reviews_shown(*reviews, cut, withhold)
    freezes = _freezes(file, cut, withhold)
    firewall = [
        FirewallShown(
            agreement_id=f.agreement_id, field=f.field,
            field_words=explain.field_name(f.field) if f.field else "the whole record",
            data_category=f.data_category,
            data_category_words=explain.words(explain.DATA_CATEGORIES, f.data_category),
            purpose=f.purpose, purpose_words=explain.words(explain.PURPOSES, f.purpose),
            use=f.use, at=f.at,
        )
        for f in file.firewall
        if cut.before(f.at)
    ]  # fmt: skip
    open_disputes = [
        r.item_id for r in review_shown if r.kind in DISPUTE_KINDS and r.status == ItemStatus.OPEN
    ]
    return SubjectAccessReport(
        report=ReportMeta(
            format=FORMAT,
            person_id=person_id,
            # The letter is dated by the same clock as what it reports (accord.clock).
            produced_at=produced_at or business_time(as_of),
            produced_by=produced_by,
            as_of=as_of,
            check_with="accord ledger check-proof FILE",
        ),
        held=Held(identity=identity, cases=cases, scores=scores, destroyed=destroyed),
        pool=pool,
        disclosures=disclosures,
        actions=actions,
        recalls=recalls,
        events=events,
        reviews=review_shown,
        freezes=freezes,
        firewall=firewall,
        withheld=withhold.withheld,
        challenge=_challenge(person_id, open_disputes, any(f.open for f in freezes)),
    )


def produce(
    url: str,
    person_id: str,
    *,
    produced_by: str,
    output_format: str = "json",
    as_of: dt.date | None = None,
    key: Ed25519PrivateKey | Ed25519PublicKey | None = None,
) -> tuple[SubjectAccessReport, bytes]:
    """Build and render the report and write its one audit entry, in one transaction.

    Rendering happens inside the transaction, so a report that could not be produced
    leaves no entry behind.  The entry names who produced it, in which format, for which
    date, how many disclosures and recalls it shows, every withheld item, and the
    SHA-256 of the report's JSON and of the bytes handed out.
    """
    if output_format not in render.FORMATS:
        raise AccordError(f"format {output_format!r} is not one of {', '.join(render.FORMATS)}")
    with db.connect(url) as conn:
        report = build(conn, person_id, as_of=as_of, produced_by=produced_by, key=key)
        data = render.render(report, output_format)
        auditlog.log(
            conn,
            produced_by,
            AUDIT_ACTION,
            person_id,
            format=output_format,
            as_of=as_of,
            disclosures=len(report.disclosures),
            recalls=len(report.recalls),
            withheld=[f"{w.item_kind}:{w.item_ref}" for w in report.withheld],
            report_sha256=report.digest(),
            output_sha256=hashlib.sha256(data).hexdigest(),
        )
    return report, data
