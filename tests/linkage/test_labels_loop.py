"""Learning from reviewers under governance, end to end (issue 17, item 4).

A run queues matches for review; a simulated reviewer decides them by the scenario's
truth (those are the labels); `accord link evaluate --labels` gives precision with
intervals; `accord link propose` proposes trusting a pattern and `accord link reestimate`
a model re-estimated from the labels; with one approval each nothing changes (the next
run gives the same outcomes and uses the same model); the second approval by another
person makes a new agreement version, and the next run lets the trusted pattern's pairs
go without a person, all of them the right person; the model proposal, once approved
by two, is the model the run after that uses.  The ledger verifies throughout.

The scenario has no namesakes in the bank (only people with a date of birth one day
off, whom the reviewer rejects), many movers (the register holds an address the
casework does not know) and an agreement with a loose tolerance (disclose_at 0.8),
so that a few hundred people give enough labels on one pattern for a proposal; one model
is trained for both backends.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime as dt
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from reviewers import as_reviewer
from sqlalchemy import select

from accord import formats, review
from accord.cli import main
from accord.digest import file_sha256
from accord.gate import TRUSTED_RULE, UNCERTAIN
from accord.linkage import evaluate as ev
from accord.linkage import labels as lab
from accord.linkage import model as m
from accord.linkage import proposals
from accord.linkage.store import current_model_id, save_model
from accord.policy.registry import stored_agreements
from accord.store import db
from accord.store.models import AuditLog, Disclosure, LedgerLeaf, LinkageModel, Match, ReviewItem
from accord.synth import synthesise
from accord.synth.mix import Mix

AS_OF = dt.date(2026, 6, 30)
AGREEMENT = "home-office-to-bank"
TOLERANCE_PER_10000 = 2_000.0  # 1 - disclose_at, per 10,000
LEFT_OPEN = 3  # items of each busy pattern the reviewer leaves for later
MIN_LABELS = 15

AGREEMENT_YAML = f"""id: {AGREEMENT}
title: Current accounts of disqualified persons
source: home-office
recipient: bank
purpose: immigration_enforcement
legal_basis: "Immigration Act 2014, ss.40-43 (synthetic scenario)"
data_categories: [immigration_casework]
fields: [family_name, given_names, date_of_birth]
status: active
valid_from: 2025-06-30
review_by: 2027-06-30
exclude_cohorts: []
match:
  disclose_at: 0.8
  review_from: 0.05
review:
  four_eyes: false
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("labels") / "scenario"
    mix = Mix().with_register_shares("namesakes", {"bank": 0.0})
    mix = mix.with_register_shares("near_namesakes", {"bank": 0.03})  # wrong labels too
    mix = mix.with_register_shares("coverage", {"bank": 0.6})
    mix = dataclasses.replace(mix, noise=3.0, previous_known=0.0, register_rows=1_050)
    synthesise(out, people=700, seed=5, as_of=AS_OF, mix=mix)
    (out / "bank-only").mkdir()
    (out / "bank-only" / f"{AGREEMENT}.yaml").write_text(AGREEMENT_YAML, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def trained(scenario: Path) -> m.TrainedModel:
    """One model for every backend: the runs load it rather than train their own."""
    register = formats.load(scenario / "bank.csv", "register")
    return m.train("bank", ev.load_scenario_pool(scenario), register, seed=1)


@pytest.fixture(scope="module")
def truth(scenario: Path) -> dict[str, str]:
    """Each bank record's true owner among the source's people (absent: none of them)."""
    with (scenario / "truth" / "records.csv").open(encoding="utf-8") as fh:
        return {
            r["record_id"]: r["person_id"]
            for r in csv.DictReader(fh)
            if r["register"] == "bank" and r["person_id"]
        }


def run(scenario: Path, url: str, key: Path, out: Path) -> dict[str, Any]:
    assert main([
        "run", "--cases", str(scenario / "cases.csv"),
        "--register", f"bank={scenario / 'bank.csv'}",
        "--agreements", str(scenario / "bank-only"), "--as-of", AS_OF.isoformat(),
        "--database", url, "--key", str(key), "--out", str(out),
    ]) == 0  # fmt: skip
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def items(url: str) -> dict[str, tuple[str, str, str, str, list[str], str | None]]:
    """Every review item about a match: (status, person, record, kind, reasons, pattern)."""
    with db.connect(url) as conn:
        rows = conn.execute(
            select(ReviewItem.item_id, ReviewItem.status, ReviewItem.person_id,
                   ReviewItem.record_id, ReviewItem.kind, ReviewItem.detail, Match.evidence)
            .join(Match, Match.id == ReviewItem.match_id)
            .where(ReviewItem.kind.in_(review.MATCH_KINDS))
        ).all()  # fmt: skip
    return {
        i: (s, p, r, k, list(d.get("reasons", [])), (e or {}).get("pattern"))
        for i, s, p, r, k, d, e in rows
    }


def agreement_version(url: str) -> tuple[int, dict[str, Any]]:
    with db.connect(url) as conn:
        ((a, v),) = [(a, v) for a, v in stored_agreements(conn) if a.id == AGREEMENT]
    return v, a.document()


def models_cited(url: str, run_id: str) -> set[int]:
    with db.connect(url) as conn:
        return {
            int(x)
            for x in conn.scalars(select(Match.model_id).where(Match.run_id == run_id).distinct())
        }


def test_labels_evaluate_propose_two_approvals_new_version_next_run_uses_it(
    scenario: Path,
    trained: m.TrainedModel,
    truth: dict[str, str],
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, key = db_url, tmp_path / "ledger.pem"
    assert main(["init", "--database", url, "--key", str(key)]) == 0
    with db.connect(url) as conn:
        old_model = save_model(conn, copy.deepcopy(trained), file_sha256(scenario / "bank.csv"))
    first = run(scenario, url, key, tmp_path / "run1")
    assert models_cited(url, first["run_id"]) == {old_model}

    # A reviewer decides the queue by the truth, leaving a few of the busiest patterns.
    queued = items(url)
    by_pattern: dict[str | None, list[str]] = defaultdict(list)
    for item_id, (_, _, _, _, _, pattern) in sorted(queued.items()):
        by_pattern[pattern].append(item_id)
    labelled: dict[str, bool] = {}  # item -> the record is the person's
    for ids in by_pattern.values():
        later = LEFT_OPEN if len(ids) >= MIN_LABELS + LEFT_OPEN else 0
        for item_id in ids[: len(ids) - later]:
            _, person, record, _, _, _ = queued[item_id]
            same = truth.get(record) == person
            review.decide(url, item_id, same, "rev-a", "checked the records", AS_OF, key)
            labelled[item_id] = same
    assert labelled and not all(labelled.values())  # some candidates were someone else

    # Evaluate: each pattern's labels and wrong ones are what the reviewer decided.
    expected: Counter[str] = Counter()
    expected_wrong: Counter[str] = Counter()
    for item_id, same in labelled.items():
        _, _, _, _, reasons, pattern = queued[item_id]
        if set(reasons) - {"long_residence"} and pattern is not None:
            expected[pattern] += 1
            expected_wrong[pattern] += not same
    with db.connect(url) as conn:
        figures = lab.label_figures(conn, "bank", None, 0.8)
    got = {p.group: p for p in figures.patterns}
    assert {p: (g.labels, g.wrong) for p, g in got.items()} == {
        p: (n, expected_wrong[p]) for p, n in expected.items()
    }
    assert sum(b.labels for b in figures.bands) == figures.overall.labels == sum(expected.values())
    for p in [*figures.bands, *figures.patterns, figures.overall]:
        if p.labels:
            assert p.low is not None and p.high is not None and p.precision is not None
            assert p.low <= p.precision <= p.high and (p.low < p.high)
    capsys.readouterr()
    assert main(["link", "evaluate", "--labels", "--register", "bank", "--agreement", AGREEMENT,
                 "--database", url]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "95% interval" in printed and "automatic band (at or above 0.8)" in printed

    # Propose: exactly the patterns whose labels are enough and within the tolerance.
    assert main(["link", "propose", "--register", "bank", "--min-labels", str(MIN_LABELS),
                 "--by", "analyst", "--database", url]) == 0  # fmt: skip
    made = [p for p in proposals.list_proposals(url) if p.kind == proposals.TRUSTED_PATTERN]
    identity_only = {
        pattern: [i for i in labelled if queued[i][5] == pattern and queued[i][4] == [UNCERTAIN]]
        for pattern in expected
    }
    supported = set()
    for pattern, ids in identity_only.items():
        wrong = sum(1 for i in ids if not labelled[i])
        upper = lab.precision(pattern, len(ids), wrong).wrong_upper_per_10000
        if len(ids) >= MIN_LABELS and upper is not None and upper <= TOLERANCE_PER_10000:
            supported.add(pattern)
    assert {p.pattern for p in made} == supported and supported
    chosen = max(made, key=lambda p: (p.automatic_gain or 0, p.proposal_id))
    waiting = {
        i
        for i, (s, _, _, k, reasons, pattern) in queued.items()
        if i not in labelled and pattern == chosen.pattern and reasons == [UNCERTAIN]
    }
    assert chosen.automatic_gain == len(waiting) > 0
    assert chosen.labels == len(identity_only[str(chosen.pattern)])

    # Re-estimate the model from the labels: kept, not current, until two approve it.
    assert main(["link", "reestimate", f"bank={scenario / 'bank.csv'}", "--min-same", "20",
                 "--by", "analyst", "--database", url]) == 0  # fmt: skip
    (relearnt,) = [p for p in proposals.list_proposals(url) if p.kind == proposals.MODEL]
    with db.connect(url) as conn:
        assert current_model_id(conn, "bank") == old_model
        new_model = conn.scalar(select(LinkageModel.id).where(LinkageModel.id == relearnt.model_id))
    assert new_model is not None and new_model != old_model

    # One approval each: nothing changes; the next run gives the same outcomes.
    for proposal in (chosen, relearnt):
        assert main(["link", "proposal", "approve", proposal.proposal_id,
                     *as_reviewer(url, "alice", tmp_path), "--database", url,
                     "--key", str(key)]) == 0  # fmt: skip
    version, _ = agreement_version(url)
    before = {i: v[0] for i, v in items(url).items()}
    with db.connect(url) as conn:
        disclosed = set(conn.scalars(select(Disclosure.disclosure_id)))
    second = run(scenario, url, key, tmp_path / "run2")
    assert second["agreements"][AGREEMENT]["disclosed"] == 0
    assert second["released_by_trusted_patterns"] == 0
    assert {i: v[0] for i, v in items(url).items()} == before
    assert agreement_version(url)[0] == version
    assert models_cited(url, second["run_id"]) == {old_model}
    with db.connect(url) as conn:
        assert set(conn.scalars(select(Disclosure.disclosure_id))) == disclosed

    # The second approval, by another person: a new agreement version, in the ledger.
    assert main(["link", "proposal", "approve", chosen.proposal_id,
                 *as_reviewer(url, "bob", tmp_path), "--database", url,
                 "--key", str(key)]) == 0  # fmt: skip
    new_version, document = agreement_version(url)
    assert new_version == version + 1
    assert [t["pattern"] for t in document["match"]["trusted_patterns"]] == [chosen.pattern]
    with db.connect(url) as conn:
        assert (
            conn.scalar(select(LedgerLeaf.kind).where(LedgerLeaf.ref_id == chosen.proposal_id))
            == "governance"
        )
        assert (
            conn.scalar(select(AuditLog.id).where(AuditLog.action == "proposal_applied"))
            is not None
        )
    assert main(["verify", "--database", url, "--key", str(key)]) == 0

    # The next run uses it: the pattern's waiting pairs go without a person, rightly.
    third = run(scenario, url, key, tmp_path / "run3")
    assert third["released_by_trusted_patterns"] == len(waiting)
    after = items(url)
    assert {i for i, v in after.items() if v[0] == proposals.RELEASED} == waiting
    assert {i: v[0] for i, v in after.items() if i not in waiting} == {
        i: s for i, s in before.items() if i not in waiting
    }
    with db.connect(url) as conn:
        trusted = conn.execute(
            select(Disclosure.person_id, Disclosure.record_id, Disclosure.agreement_version)
            .where(Disclosure.decided_by == TRUSTED_RULE)
        ).all()  # fmt: skip
    assert {(p, r) for p, r, _ in trusted} == {(after[i][1], after[i][2]) for i in waiting}
    assert all(truth.get(r) == p for p, r, _ in trusted)  # every one the right person
    assert {v for _, _, v in trusted} == {new_version}
    assert agreement_version(url)[0] == new_version  # the file did not undo it
    assert models_cited(url, third["run_id"]) == {old_model}  # the model: one approval
    assert main(["verify", "--database", url, "--key", str(key)]) == 0

    # The re-estimated model, once another person approves it, is what the next run uses.
    assert main(["link", "proposal", "approve", relearnt.proposal_id,
                 *as_reviewer(url, "bob", tmp_path), "--database", url,
                 "--key", str(key)]) == 0  # fmt: skip
    fourth = run(scenario, url, key, tmp_path / "run4")
    assert models_cited(url, fourth["run_id"]) == {relearnt.model_id}
    assert main(["verify", "--database", url, "--key", str(key)]) == 0
