"""The planning rule on plain data: newest unseen per subscription, dedupe, cap, rotation, exhaustion."""

from __future__ import annotations

from bot.push.planner import pick

LISTS = {
    "topic:A": ["a3", "shared", "a1"],
    "topic:B": ["shared", "b2", "b1"],
    "topic:C": ["c1"],
    "keyword:RAG": [],
}


def test_each_subscription_brings_its_newest_unseen_paper() -> None:
    papers, extra = pick(["topic:A", "topic:C"], LISTS, {"a3"}, {}, cap=5, rotate=0)
    assert papers == [("shared", "topic:A"), ("c1", "topic:C")]
    assert extra is None


def test_a_paper_in_two_subscriptions_is_taken_once() -> None:
    papers, _ = pick(["topic:B", "topic:A"], LISTS, {"a3"}, {}, cap=5, rotate=0)
    assert papers == [("shared", "topic:B"), ("a1", "topic:A")]


def test_cap_and_rotation_let_every_subscription_take_turns() -> None:
    subs = ["topic:A", "topic:B", "topic:C"]
    turns = [pick(subs, LISTS, set(), {}, cap=2, rotate=day)[0] for day in range(3)]
    assert all(len(t) == 2 for t in turns)
    assert {key for t in turns for _, key in t} == set(subs)


def test_exhausted_subscription_is_told_once_then_skipped_until_its_count_changes() -> None:
    seen = {"c1"}
    papers, extra = pick(["topic:C"], LISTS, seen, {}, cap=5, rotate=0)
    assert papers == [] and extra is not None
    assert extra.notices == [("topic:C", 1)] and extra.remember == [("topic:C", 1)]
    # told already, same count: silently skipped
    _, extra = pick(["topic:C"], LISTS, seen, {"topic:C": 1}, cap=5, rotate=0)
    assert extra is not None and extra.exhausted == ["topic:C"] and not extra.notices and not extra.remember
    # a new paper arrived: it is picked and the notice forgotten (a later run-out is told again)
    grown = {**LISTS, "topic:C": ["c2", "c1"]}
    papers, extra = pick(["topic:C"], grown, seen, {"topic:C": 1}, cap=5, rotate=0)
    assert papers == [("c2", "topic:C")] and extra is not None and extra.forget == ["topic:C"]


def test_empty_subscription_is_not_announced() -> None:
    papers, extra = pick(["keyword:RAG", "topic:unknown"], LISTS, set(), {}, cap=5, rotate=0)
    assert papers == [] and extra is not None
    assert extra.exhausted == ["keyword:RAG", "topic:unknown"] and not extra.notices
