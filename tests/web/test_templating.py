"""Templates compare codes with accord.vocab's enums (`accord.templating`), never spelled."""

from __future__ import annotations

from enum import StrEnum

from accord import templating, vocab
from accord.vocab import Decision, DestructionOutcome, DisclosureStatus, ItemStatus, RemedyStatus
from accord.web import words


def test_the_vocabulary_is_every_enum_of_vocab_by_name() -> None:
    enums = {
        name
        for name in dir(vocab)
        if isinstance(getattr(vocab, name), type)
        and issubclass(getattr(vocab, name), StrEnum)
        and getattr(vocab, name) is not StrEnum
    }
    assert set(templating.VOCABULARY) == enums and {"ItemStatus", "PoolStatus"} <= enums
    assert templating.VOCABULARY["ItemStatus"] is ItemStatus


def test_every_environment_has_the_vocabulary() -> None:
    for package in ("accord.rights", "accord.oversight"):
        env = templating.environment(package)
        shown = env.from_string(
            "{{ 'yes' if status == DisclosureStatus.RECALLED else 'no' }} {{ ItemStatus.OPEN }}"
        ).render(status="recalled")
        assert shown == "yes open", package
    assert words.TEMPLATE_GLOBALS["Decision"] is Decision
    assert words.TEMPLATE_GLOBALS["DisclosureStatus"] is DisclosureStatus


def test_remedy_and_destruction_words_are_compared_as_members() -> None:
    env = templating.environment("accord.rights")
    template = env.from_string(
        "{{ 'owed' if s == RemedyStatus.OUTSTANDING else 'not owed' }},"
        " {{ 'gone' if o == DestructionOutcome.DESTROYED else 'kept' }}"
    )
    assert template.render(s="outstanding", o="destroyed") == "owed, gone"
    assert template.render(s="remedied", o="refused") == "not owed, kept"
    assert words.TEMPLATE_GLOBALS["RemedyStatus"] is RemedyStatus
    assert words.TEMPLATE_GLOBALS["DestructionOutcome"] is DestructionOutcome
