"""Derived scores (F8): impact assessment and retention required, roles firewalled, expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accord.policy.agreement import Agreement, parse_agreement
from accord.policy.lint import lint
from accord.policy.policy import default_policy
from accord.scores import needs_human_review, shareable
from accord.store import db
from accord.store.models import DerivedScore

TODAY = dt.date(2026, 6, 30)


def agreement(**changes: Any) -> Agreement:
    doc: dict[str, Any] = {
        "id": "police-to-hmrc", "title": "Scores", "source": "police", "recipient": "hmrc",
        "purpose": "tax_enforcement", "legal_basis": "s.1", "data_categories": ["derived_score"],
        "fields": ["family_name", "score_kind", "score_value", "score_role",
                   "score_explanation"], "status": "active", "valid_from": "2026-01-01",
        "review_by": "2027-01-01", "match": {"disclose_at": 0.99, "review_from": 0.9,
                                              "ambiguity_margin": 0.05},
        "impact_assessment": {"document_id": "DPIA-7", "date": "2026-01-01"},
        "score_retention_days": 365, "roles": ["subject"],
    }  # fmt: skip
    doc.update(changes)
    return parse_agreement({k: v for k, v in doc.items() if v is not None})


def messages(a: Agreement) -> list[str]:
    return [f.message for f in lint([a], default_policy(), TODAY)]


def test_an_agreement_sharing_scores_without_an_impact_assessment_is_rejected() -> None:
    found = messages(agreement(impact_assessment=None))
    assert (
        "agreement police-to-hmrc: shares derived_score without an impact assessment on "
        "file: name impact_assessment (document_id and date)"
    ) in found


def test_an_agreement_sharing_scores_without_a_retention_limit_is_rejected() -> None:
    found = messages(agreement(score_retention_days=None))
    assert (
        "agreement police-to-hmrc: shares derived_score without a retention limit: set "
        "score_retention_days"
    ) in found
    assert not any("impact assessment" in m for m in found)


def test_victims_and_witnesses_for_an_enforcement_purpose_breach_the_firewall() -> None:
    found = messages(agreement(roles=["subject", "victim", "witness"]))
    for role in ("victim", "witness"):
        assert (
            "agreement police-to-hmrc: refused by the firewall (victims' and witnesses' "
            f"scores are never used for an enforcement purpose): role {role} and purpose "
            "tax_enforcement is an enforcement purpose"
        ) in found
    assert not any("role" in m for m in messages(agreement(purpose="safeguarding",
                                                             roles=["victim"])))  # fmt: skip


def test_scores_for_an_enforcement_purpose_need_human_review() -> None:
    policy = default_policy()
    assert needs_human_review(agreement(), policy)
    assert not needs_human_review(agreement(purpose="safeguarding"), policy)
    assert not needs_human_review(agreement(data_categories=["immigration_casework"]), policy)


def _score(score_id: str, role: str, retain_until: dt.date) -> DerivedScore:
    return DerivedScore(
        score_id=score_id, person_id=f"P-{score_id}", kind="risk", value=0.7, role=role,
        explanation={"inputs": ["arrests"], "method": "logistic v1"},
        computed_at=dt.date(2026, 1, 1), retain_until=retain_until,
    )  # fmt: skip


def test_shareable_excludes_victims_witnesses_for_enforcement_and_expired(db_url: str) -> None:
    later, earlier = dt.date(2026, 12, 31), dt.date(2026, 6, 29)
    with db.session(db_url) as s:
        s.add_all([_score("S1", "subject", later), _score("S2", "victim", later),
                   _score("S3", "witness", later), _score("S4", "subject", earlier)])  # fmt: skip
        s.commit()
    policy = default_policy()
    everyone = agreement(roles=["subject", "victim", "witness"])
    with db.connect(db_url) as conn:
        shared = shareable(conn, everyone, TODAY, policy)
        assert [s.score_id for s in shared] == ["S1"]
        assert shared[0].explanation == {"inputs": ["arrests"], "method": "logistic v1"}
        care = agreement(purpose="safeguarding", roles=["subject", "victim", "witness"])
        assert [s.score_id for s in shareable(conn, care, TODAY, policy)] == ["S1", "S2", "S3"]
        # On the day before S4's limit passed, it was still shareable.
        assert "S4" in [s.score_id for s in shareable(conn, everyone, earlier, policy)]
        plain = agreement(data_categories=["immigration_casework"])
        assert shareable(conn, plain, TODAY, policy) == []


def test_an_agreement_that_does_not_set_the_score_fields_keeps_its_document() -> None:
    plain = agreement(impact_assessment=None, score_retention_days=None, roles=None)
    assert not {"impact_assessment", "score_retention_days", "roles"} & set(plain.document())
    assert plain.roles == ["subject"]
    assert agreement().document()["roles"] == ["subject"]


def test_a_victims_score_for_enforcement_is_refused_when_loaded_for_a_run() -> None:
    import pytest

    from accord.errors import AccordError
    from accord.policy.firewall import check_agreement

    with pytest.raises(AccordError, match="role victim and purpose tax_enforcement"):
        check_agreement(agreement(roles=["victim"]), default_policy())
    check_agreement(agreement(), default_policy())  # a subject's score is not a breach


def test_an_agreement_sharing_scores_must_send_each_with_its_explanation_and_role() -> None:
    found = messages(agreement(fields=["family_name", "score_kind", "score_value"]))
    assert (
        "agreement police-to-hmrc: shares derived_score without score_role, score_explanation "
        "in its fields: a score is shared only with its kind, its value, its explanation "
        "(inputs and method) and whose score it is"
    ) in found
    assert not any("score_explanation" in m for m in messages(agreement()))


def test_an_agreement_shares_a_score_only_within_its_own_retention_limit(db_url: str) -> None:
    with db.session(db_url) as s:
        s.add(_score("S1", "subject", dt.date(2027, 1, 1)))  # computed 2026-01-01
        s.commit()
    policy = default_policy()
    with db.connect(db_url) as conn:
        assert shareable(conn, agreement(score_retention_days=365), TODAY, policy)
        # Held for another agreement's longer limit, but older than this one allows.
        assert shareable(conn, agreement(score_retention_days=90), TODAY, policy) == []
        # Not yet computed on an earlier as-of date (a replay): not shared.
        assert shareable(conn, agreement(), dt.date(2025, 12, 31), policy) == []
