"""Read a subject access letter against the database, statement by statement.

:func:`problems` parses the letter's HTML (the words a person reads, not the JSON beside
it) and checks each statement against the rows it summarises: every detail's value and
where it came from (the recorded provenance, and that case record's own value); every
change of the person's standing on the list, its date and its reasons (an admission's
grounds: the decision against them that was the latest on that day); every sharing, its
date, recipient, what was sent and who decided (each reviewer's decision, date and
reason); every action a recipient reported; every event; every withdrawal, its reason
and what it says about putting things right (no "nothing was done" next to an adverse
action); the summary's counts; and that the dates fall in order with the person's pool
history and on or before the letter's own date.

It returns the problems as sentences naming the statement; an empty list means the
letter and the database agree.  Used by tests/cli/test_demo.py on the demo's letters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from xml.etree.ElementTree import Element

import tinyhtml5
from sqlalchemy import Connection, select

from accord.admission import ADVERSE as ADVERSE_DECISIONS
from accord.admission import PROVENANCE_KEY
from accord.formats.schema import ADVERSE_ACTIONS, REVERSAL_ACTIONS
from accord.remedy import NOT_WRONGFUL
from accord.rights import explain
from accord.store import db
from accord.store.models import (
    CaseDecision,
    Disclosure,
    Event,
    Freeze,
    Person,
    PoolHistory,
    Recall,
    RecipientAction,
    ReviewDecision,
    ReviewItem,
    as_utc,
)

CODE_WORDS: Mapping[str, Mapping[str, str]] = {
    "latest_decision": explain.DECISIONS,
    "refusal_reason": explain.REASONS,
    "appeal_status": explain.APPEAL,
    "leave": explain.LEAVE,
}
CASE_COLUMN = {"latest_decision": "decision", "latest_decision_date": "decision_date"}
WITHDRAWING = ("decision_overturned", "leave_granted", "record_corrected", "departure_recorded")


def day(value: dt.date | dt.datetime) -> str:
    """A date as the letter writes it, computed here independently of the renderer."""
    return f"{value.day} {value:%B %Y}"


def upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def text(e: Element | None) -> str:
    return " ".join("".join(e.itertext()).split()) if e is not None else ""


def body(table: Element) -> list[Element]:
    """The rows of a table's body (an empty list for none)."""
    found = table.find("tbody")
    return list(found) if found is not None else []


def _rows(conn: Connection, model: Any, *where: Any, order: Sequence[Any] = ()) -> list[Any]:
    return list(conn.execute(select(model.__table__).where(*where).order_by(*order)))


def _value_words(field: str, value: Any) -> str:
    if isinstance(value, dt.date):
        return day(value)
    if field == "nationality":
        return explain.country(str(value))
    if field in CODE_WORDS:
        return explain.words(CODE_WORDS[field], str(value))
    return str(value)


def _sent_words(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return day(dt.date.fromisoformat(value))
    return str(value)


class Letter:
    """The parsed letter: its sections by heading id."""

    def __init__(self, html: str) -> None:
        self.root = tinyhtml5.parse(html, namespace_html_elements=False)
        self.sections = {
            s.get("aria-labelledby", ""): s for s in self.root.iter("section")
        }  # fmt: skip

    def table(self, section: str, caption: str) -> list[list[str]]:
        """The body rows (header cell and data cells, as text) of the captioned table."""
        for t in self.sections[section].iter("table"):
            if text(t.find("caption")) == caption:
                return [[text(c) for c in tr if c.tag in ("th", "td")] for tr in body(t)]
        return []

    def items_after(self, section: str, heading: str) -> list[Element]:
        """The top-level list items of the first list after the h3 ``heading``."""
        children = list(self.sections[section])
        for i, child in enumerate(children):
            if child.tag == "h3" and text(child) == heading:
                for later in children[i + 1 :]:
                    if later.tag in ("ul", "ol"):
                        return [li for li in later if li.tag == "li"]
                    if later.tag == "h3":
                        return []
        return []


def problems(
    url: str, html: str, person_id: str, as_of: dt.date | None, *, nothing_later: bool = False
) -> list[str]:
    """Every statement of the letter about ``person_id`` that the database contradicts.

    With ``nothing_later`` (a letter written when everything had happened, as the demo's
    are), a row about the person dated after the letter's as-of day is itself a problem:
    it was dated by another clock than the one the letter follows.
    """
    found: list[str] = []
    say = found.append
    letter = Letter(html)
    end = (
        None
        if as_of is None
        else dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    )

    def by(value: dt.datetime | None) -> bool:
        return value is not None and (end is None or as_utc(value) < end)

    def on_or_before(value: dt.date) -> bool:
        return as_of is None or value <= as_of

    if nothing_later and as_of is not None:
        found += later_than(url, person_id, as_of)
    with db.connect(url) as conn:
        person = conn.execute(select(Person.__table__).where(Person.person_id == person_id)).first()
        cases = {
            c.case_id: c for c in _rows(conn, CaseDecision, CaseDecision.person_id == person_id)
        }
        history = [
            h
            for h in _rows(
                conn, PoolHistory, PoolHistory.person_id == person_id,
                order=(PoolHistory.at, PoolHistory.id),
            )
            if on_or_before(h.as_of)
        ]  # fmt: skip
        disclosures = {
            d.disclosure_id: d
            for d in _rows(conn, Disclosure, Disclosure.person_id == person_id)
            if by(d.disclosed_at)
        }
        recalls = {
            r.recall_id: r
            for r in _rows(conn, Recall, Recall.person_id == person_id)
            if by(r.recalled_at)
        }
        actions = [
            a
            for a in _rows(
                conn, RecipientAction, RecipientAction.disclosure_id.in_(list(disclosures)),
                order=(RecipientAction.action_date, RecipientAction.id),
            )
            if on_or_before(a.action_date)
        ]  # fmt: skip
        events = [
            e
            for e in _rows(conn, Event, Event.person_id == person_id, order=(Event.event_date,))
            if on_or_before(e.event_date)
        ]
        items = {
            i.item_id: i
            for i in _rows(conn, ReviewItem, ReviewItem.person_id == person_id)
            if by(i.created_at)
        }
        freezes = [
            f
            for f in _rows(conn, Freeze, Freeze.person_id == person_id, order=(Freeze.opened_at,))
            if by(f.opened_at) and not by(f.lifted_at)
        ]
        decisions = [
            d
            for d in _rows(
                conn, ReviewDecision, ReviewDecision.item_id.in_(list(items)),
                order=(ReviewDecision.decided_at, ReviewDecision.id),
            )
            if by(d.decided_at)
        ]  # fmt: skip

    # --- the letter's own date ---------------------------------------------------------------
    ref = text(letter.root.find(".//p[@class='ref']"))
    written = re.search(r"Written on (\d{1,2} \w+ \d{4})", ref)
    if as_of is not None and (written is None or written[1] != day(as_of)):
        say(f"the letter is dated {written[1] if written else '?'}, not its as-of {day(as_of)}")
    letter_day = as_of

    def after_letter(value: dt.date, what: str) -> None:
        if letter_day is not None and value > letter_day:
            say(f"{what} is dated {day(value)}, after the letter's own date {day(letter_day)}")

    # --- what we hold: each detail, its value and where it came from --------------------------
    provenance: Mapping[str, Any] = {}
    if person is not None:
        parsed = person.provenance
        parsed = json.loads(parsed) if isinstance(parsed, str) else parsed
        provenance = parsed if isinstance(parsed, Mapping) else {}
    field_of = {explain.field_name(f).lower(): f for f in explain.FIELDS}
    for row in letter.table("held", "Your details"):
        words, value_words, source = row
        field = field_of.get(words.lower())
        if field is None or person is None:
            say(f"detail {words!r}: no such field of the person")
            continue
        value = getattr(person, field)
        if value is None or _value_words(field, value) != value_words:
            say(f"detail {words}: the letter says {value_words!r}, the person row holds {value!r}")
        entry = provenance.get(PROVENANCE_KEY.get(field, field))
        column = CASE_COLUMN.get(field, field)
        recorded = entry.get("case_id") if isinstance(entry, Mapping) else entry
        m = re.fullmatch(r"case record (\S+) \((.+)\)", source)
        if m:
            case = cases.get(m[1])
            if recorded != m[1]:
                say(f"detail {words}: from case record {m[1]}, recorded as {entry!r}")
            if case is None:
                say(f"detail {words}: case record {m[1]} is not one of the person's")
                continue
            if m[2] != explain.words(explain.DATA_CATEGORIES, case.data_category):
                say(f"detail {words}: case {m[1]} is {case.data_category}, the letter says {m[2]}")
            if getattr(case, column) != value:
                say(f"detail {words}: case {m[1]} holds {getattr(case, column)!r}, not {value!r}")
        elif source.startswith("what we were told"):
            told = re.search(r"on (\d{1,2} \w+ \d{4})", source)
            if not (isinstance(entry, Mapping) and entry.get("event_type")):
                say(f"detail {words}: said to come from an event, recorded as {entry!r}")
            elif not any(
                e.event_type == entry["event_type"] and told and day(e.event_date) == told[1]
                for e in events
            ):
                say(f"detail {words}: no {entry['event_type']} event on {told and told[1]}")
        elif source == "not recorded":
            if recorded is not None:
                say(f"detail {words}: shown as not recorded, recorded as {entry!r}")
            holding = [c for c in cases.values() if getattr(c, column, None) == value]
            if holding:
                say(f"detail {words}: shown as not recorded, case {holding[0].case_id} holds it")
        else:
            say(f"detail {words}: source {source!r} is neither a case record, an event nor none")

    # --- the list: every change, its date and its reasons ----------------------------------------
    rows = letter.table("held", "Every change, oldest first")
    if len(rows) != len(history):
        say(f"the letter lists {len(rows)} changes to the list, the database {len(history)}")
    decided = sorted(
        (c for c in cases.values() if c.decision != "information"),
        key=lambda c: (c.decision_date, c.case_id),
    )
    for (when, what, why), h in zip(rows, history, strict=False):
        reasons = json.loads(h.reasons) if isinstance(h.reasons, str) else list(h.reasons)
        if when != day(h.as_of):
            say(f"list change {what!r}: dated {when}, recorded as of {day(h.as_of)}")
        if what != upper(explain.words(explain.POOL_STATUS, h.status)):
            say(f"list change on {when}: {what!r}, recorded status {h.status}")
        for words in explain.reasons(reasons):
            if words not in why:
                say(f"list change on {when}: recorded reason {words!r} is not given")
        if why == "no reason was recorded" and (reasons or h.status == "admitted"):
            say(f"list change on {when}: 'no reason was recorded' for {h.status} {reasons}")
        if h.status == "admitted":
            latest = [c for c in decided if c.decision_date <= h.as_of]
            grounds = re.search(r"\(case record (\S+)\)", why)
            if "no rule that keeps a person off the list applied" not in why:
                say(f"admission on {when}: the rule that admitted the person is not given")
            if latest and latest[-1].decision in ADVERSE_DECISIONS:
                c = latest[-1]
                named = f"{explain.words(explain.DECISIONS, c.decision)} on {day(c.decision_date)}"
                if grounds is None or grounds[1] != c.case_id or not why.startswith(named):
                    say(f"admission on {when}: grounds {why!r}, latest decision {c.case_id}")
        after_letter(h.as_of, f"list change {what!r}")
    for a, b in itertools.pairwise(history):
        if b.as_of < a.as_of:
            say(f"list changes out of order: {day(a.as_of)} then {day(b.as_of)}")

    def on_list(when: dt.date) -> bool:
        """On the list that day: the last change before it, or one that day, admitted."""
        before = [h for h in history if h.as_of < when]
        that_day = [h for h in history if h.as_of == when]
        return bool(
            (before and before[-1].status == "admitted")
            or any(h.status == "admitted" for h in that_day)
        )

    # --- who we shared it with: each sharing ----------------------------------------------
    shared = letter.sections["shared"]
    articles = [a for a in shared.iter("article")]
    number: dict[int, str] = {}
    if len(articles) != len(disclosures):
        say(f"the letter shows {len(articles)} sharings, the database {len(disclosures)}")
    recall_of = {r.disclosure_id: r for r in recalls.values()}
    for art in articles:
        head = re.fullmatch(r"(\d+)\. (.+), (\d{1,2} \w+ \d{4})", text(art.find("h3")))
        refs = re.search(r"Their reference for the record they hold: (\S+?)\. Our reference "
                         r"for this sharing: (\S+?)\.", text(art))  # fmt: skip
        if head is None or refs is None:
            say(f"sharing {text(art.find('h3'))!r}: cannot read its heading or references")
            continue
        d = disclosures.get(refs[2])
        if d is None:
            say(f"sharing {head[1]}: {refs[2]} is no disclosure about the person")
            continue
        number[int(head[1])] = d.disclosure_id
        if head[2] != upper(explain.recipient(d.recipient)):
            say(f"sharing {head[1]}: recipient {head[2]!r}, recorded {d.recipient}")
        made = as_utc(d.disclosed_at).date()
        if head[3] != day(made):
            say(f"sharing {head[1]}: dated {head[3]}, disclosed {day(made)}")
        if refs[1] != d.record_id:
            say(f"sharing {head[1]}: their record {refs[1]}, recorded {d.record_id}")
        withdrawn = "We have since withdrawn this" in text(art)
        if withdrawn != (d.disclosure_id in recall_of):
            say(f"sharing {head[1]}: shown withdrawn {withdrawn}, recalled the other way")
        if not on_list(made):
            say(f"sharing {head[1]} on {day(made)}: the person was not on the list that day")
        after_letter(made, f"sharing {head[1]}")
        sent = json.loads(d.fields) if isinstance(d.fields, str) else dict(d.fields)
        table = next(t for t in art.iter("table"))
        shown = [[text(c) for c in tr] for tr in body(table)]
        expected = [[upper(explain.field_name(k)), _sent_words(v)] for k, v in sent.items()]
        if shown != expected:
            say(f"sharing {head[1]}: sent {shown}, recorded {expected}")
        said = text(art)
        if d.decided_by.startswith("rule:"):
            if "decided automatically" not in said:
                say(f"sharing {head[1]}: decided by {d.decided_by}, the letter does not say so")
        else:
            names = [n.strip() for n in d.decided_by.split(":", 1)[-1].split(",")]
            mine = [x for x in decisions if x.reviewer in names and x.decision == "approve"
                    and items[x.item_id].record_id == d.record_id
                    and items[x.item_id].agreement_id == d.agreement_id]  # fmt: skip
            for x in mine:
                line = (f"{x.reviewer} {explain.words(explain.REVIEW_DECISION, x.decision)} it "
                        f"on {day(as_utc(x.decided_at))}, saying: “{x.reason}”")  # fmt: skip
                if line not in said:
                    say(f"sharing {head[1]}: {x.reviewer}'s decision is not shown as recorded")
                if as_utc(x.decided_at).date() > made:
                    say(f"sharing {head[1]}: approved on {day(x.decided_at)}, after it was made")
            if {x.reviewer for x in mine} != set(names):
                approvers = [x.reviewer for x in mine]
                say(f"sharing {head[1]}: decided by {names}, approvals by {approvers}")

    # --- what they did ---------------------------------------------------------------------
    did = letter.sections["did"]
    rows = [[text(c) for c in tr] for t in did.iter("table") for tr in body(t)]
    listed = sorted(
        (when, org, what, number.get(int(n), "?") if (n := about.split()[-1]).isdigit() else about)
        for when, org, what, about in rows
    )
    recorded = sorted(
        (day(a.action_date), explain.recipient(a.recipient),
         upper(explain.words(explain.ACTIONS, a.action)), a.disclosure_id)
        for a in actions
    )  # fmt: skip
    if listed != recorded:
        say(f"actions: the letter lists {listed}, the database {recorded}")
    for a in actions:
        made = as_utc(disclosures[a.disclosure_id].disclosed_at).date()
        if a.action_date < made:
            say(f"action {a.action} on {day(a.action_date)} precedes its sharing on {day(made)}")
        after_letter(a.action_date, f"action {a.action}")
    adverse = [a for a in actions if a.action in ADVERSE_ACTIONS]
    summary = text(letter.root.find(".//div[@role='note']"))
    count = re.search(r"acted against you (\d+) times?", summary)
    if (int(count[1]) if count else 0) != len(adverse):
        counted = count[1] if count else 0
        say(f"the summary counts {counted} actions against you, recorded {len(adverse)}")
    shared_n = re.search(r"We shared information about you (\d+) times?", summary)
    if (int(shared_n[1]) if shared_n else 0) != len(disclosures):
        say(f"the summary counts {shared_n and shared_n[1]} sharings, recorded {len(disclosures)}")

    # --- what we were told, and what we withdrew -------------------------------------------------
    told_lines = [text(li) for li in letter.items_after("corrected", "What we were told about you")]
    expected_told = [
        f"{day(e.event_date)}: {explain.words(explain.EVENT_TYPES, e.event_type)}"
        + (f" (“{e.detail}”)" if e.detail else "") + "."
        for e in events
    ]  # fmt: skip
    if told_lines != expected_told:
        say(f"events: the letter says {told_lines}, the database {expected_told}")
    shown_recalls = [
        div for div in letter.sections["corrected"].iter("div") if div.get("class") == "item"
    ]
    if len(shown_recalls) != len(recalls):
        say(f"the letter shows {len(shown_recalls)} withdrawals, the database {len(recalls)}")
    for div in shown_recalls:
        heading = re.fullmatch(r"(\d{1,2} \w+ \d{4}): withdrawn from (.+)", text(div.find("h4")))
        pairs = dict(zip([text(x) for x in div.iter("dt")], [text(x) for x in div.iter("dd")],
                         strict=True))  # fmt: skip
        rid = (pairs.get("Our reference") or "").split(" ")[0]
        r = recalls.get(rid)
        if heading is None or r is None:
            say(f"withdrawal {text(div.find('h4'))!r}: {rid!r} is no recall about the person")
            continue
        recalled = as_utc(r.recalled_at).date()
        if heading[1] != day(recalled):
            say(f"withdrawal {rid}: dated {heading[1]}, recalled {day(recalled)}")
        if heading[2] != explain.recipient(r.recipient):
            say(f"withdrawal {rid}: from {heading[2]!r}, recorded {r.recipient}")
        if pairs.get("Why") != upper(explain.reason(r.reason)) + ".":
            say(f"withdrawal {rid}: why {pairs.get('Why')!r}, recorded {r.reason}")
        d = disclosures[r.disclosure_id]
        if recalled < as_utc(d.disclosed_at).date():
            say(f"withdrawal {rid} on {day(recalled)} precedes its sharing")
        after_letter(recalled, f"withdrawal {rid}")
        if r.event_id is not None:
            event = next((e for e in events if e.event_id == r.event_id), None)
            if event is None or event.event_date > recalled:
                say(f"withdrawal {rid}: its event {r.event_id} is missing or later than it")
        if r.reason in WITHDRAWING or r.reason.endswith("_upheld"):
            off = [h for h in history if h.status == "withdrawn" and h.as_of <= recalled]
            if not off:
                say(f"withdrawal {rid} on {day(recalled)}: the person was never taken off the list")
        _check_remedy(say, rid, pairs.get("Putting it right", ""), r, [
            a for a in actions if a.disclosure_id == r.disclosure_id
        ], by)  # fmt: skip

    # --- checks made by a person, and challenges --------------------------------------------------
    checks = 0
    challenge_kinds = ("dispute", "re_review", "dispute_resolution")
    in_order = sorted(items.values(), key=lambda i: (as_utc(i.created_at), i.item_id))
    for section, title, kinds_shown in (
        ("shared", "Checks made by a person", lambda k: k not in challenge_kinds),
        ("challenge", "Challenges and checks already under way", lambda k: k in challenge_kinds),
    ):
        opened_items = [i for i in in_order if kinds_shown(i.kind)]
        listed_lines = [text(li) for li in letter.items_after(section, title)]
        lines = [line for line in listed_lines if not line.startswith("Since ")]
        if section == "challenge":
            frozen = [line for line in listed_lines if line.startswith("Since ")]
            expected_frozen = [
                f"Since {day(as_utc(f.opened_at))}, sharing about you has been frozen because "
                f"{explain.reason(f.reason)}."
                for f in freezes
            ]
            if frozen != expected_frozen:
                say(f"freezes: the letter says {frozen}, the database {expected_frozen}")
            for f in freezes:
                after_letter(as_utc(f.opened_at).date(), f"freeze {f.id}")
        checks += len(lines)
        for line, item in zip(lines, opened_items, strict=False):
            opened = as_utc(item.created_at)
            start = f"{day(opened)}: {explain.words(explain.REVIEW_KINDS, item.kind)}"
            if not line.startswith(start):
                say(f"check {item.item_id}: the letter says {line[:60]!r}, recorded {start!r}")
            if as_of is not None and item.status != "open" and by(item.closed_at):
                status = explain.words(explain.REVIEW_STATUS, item.status)
                if status not in line:
                    say(f"check {item.item_id}: its outcome {item.status} is not given")
            after_letter(opened.date(), f"check {item.item_id}")
            for x in (x for x in decisions if x.item_id == item.item_id):
                said = (f"{x.reviewer} {explain.words(explain.REVIEW_DECISION, x.decision)} on "
                        f"{day(as_utc(x.decided_at))}: “{x.reason}”")  # fmt: skip
                if said not in line:
                    say(f"check {item.item_id}: {x.reviewer}'s decision is not shown as recorded")
                if as_utc(x.decided_at) < opened:
                    say(f"check {item.item_id}: decided on {day(x.decided_at)} before it opened")
    if checks != len(items):
        say(f"the letter shows {checks} checks and challenges, the database {len(items)}")
    return found


def later_than(url: str, person_id: str, as_of: dt.date) -> list[str]:
    """Rows about the person whose business date falls after ``as_of``."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    found: list[str] = []
    with db.connect(url) as conn:
        dated = [
            ("disclosure", Disclosure, Disclosure.person_id, Disclosure.disclosed_at),
            ("recall", Recall, Recall.person_id, Recall.recalled_at),
            ("review item", ReviewItem, ReviewItem.person_id, ReviewItem.created_at),
            ("closed review item", ReviewItem, ReviewItem.person_id, ReviewItem.closed_at),
        ]
        for what, model, who, when in dated:
            for ref, at in conn.execute(
                select(next(iter(model.__table__.primary_key)), when).where(who == person_id)
            ):
                if at is not None and as_utc(at) >= end:
                    found.append(f"{what} {ref} is dated {day(as_utc(at))}, after {day(as_of)}")
        for item_id, at in conn.execute(
            select(ReviewDecision.item_id, ReviewDecision.decided_at)
            .join(ReviewItem, ReviewItem.item_id == ReviewDecision.item_id)
            .where(ReviewItem.person_id == person_id)
        ):
            if as_utc(at) >= end:
                found.append(
                    f"a decision on {item_id} is dated {day(as_utc(at))}, after the letter"
                )
    return found


def _check_remedy(
    say: Callable[[str], None],
    rid: str,
    words: str,
    recall: Any,
    acted: Iterable[Any],
    by: Callable[[dt.datetime | None], bool],
) -> None:
    """What the letter says about putting a withdrawal right, against the actions recorded."""
    acted = list(acted)
    adverse = [a for a in acted if a.action in ADVERSE_ACTIONS]
    reversed_ = [a for a in acted if a.action in REVERSAL_ACTIONS]
    if words.startswith(upper(explain.REMEDY["none_needed"])) and adverse:
        say(f"withdrawal {rid}: 'nothing had been done' beside {[a.action for a in adverse]}")
    if "acted on it (" in words:
        listed = re.search(r"acted on it \(([^)]*)\)", words)
        expected = "; ".join(dict.fromkeys(explain.words(explain.ACTIONS, a.action)
                                           for a in adverse))  # fmt: skip
        if listed is None or listed[1] != expected:
            say(f"withdrawal {rid}: acted on it ({listed and listed[1]}), recorded {expected!r}")
        if "does not mean it was wrong" in words and recall.reason not in NOT_WRONGFUL:
            say(f"withdrawal {rid}: 'not wrong to share', yet recalled for {recall.reason}")
    if words.startswith(upper(explain.REMEDY["outstanding"])) and not adverse:
        say(f"withdrawal {rid}: a remedy is outstanding, but no action against was recorded")
    if words.startswith(upper(explain.REMEDY["remedied"])):
        on = re.search(r"\(on (\d{1,2} \w+ \d{4})\)", words)
        if not by(recall.remedied_at) or on is None or on[1] != day(as_utc(recall.remedied_at)):
            say(f"withdrawal {rid}: remedied {on and on[1]}, recorded {recall.remedied_at}")
        if not any(day(a.action_date) == (on and on[1]) for a in reversed_):
            say(f"withdrawal {rid}: no reversal recorded on {on and on[1]}")
        if (
            on is not None
            and recall.remedied_at
            and as_utc(recall.remedied_at)
            < as_utc(recall.recalled_at).replace(hour=0, minute=0, second=0, microsecond=0)
        ):
            say(f"withdrawal {rid}: remedied before it was recalled")
