import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speciarl import Verdict
from speciarl.reward import (
    SCHEMES,
    STATIC_SCHEMES,
    add_verdict_noise,
    batch_rewards,
    group_rewards,
    reference_level,
)
from verdict_letters import A, G, L, M, S, W


@pytest.mark.parametrize(
    ("verdicts", "reference", "rewards"),
    [
        ([W, W, W], A, [0, 0, 0]),  # all wrong: no gradient
        ([W, A, W], A, [0, 1, 0]),  # abstaining beats guessing where nothing is right
        ([G, W, A], G, [1, 0, 0]),  # generic is rewarded when nothing did better
        ([G, L, W], L, [0, 1, 0]),
        ([G, L, S], S, [0, 0, 1]),
        ([S, M, L], S, [1, 1, 0]),  # specific and more specific tie
        ([M, M], S, [1, 1]),
        ([None, G, None], G, [0, 1, 0]),  # undecided: 0, no part in c*
        ([None, None], None, [0, 0]),
        ([], None, []),
    ],
)
def test_speciarl_reward_table(verdicts, reference, rewards):
    assert reference_level(verdicts) is reference
    assert group_rewards(verdicts) == rewards


def test_format_failures_get_the_penalty_and_do_not_set_the_reference():
    verdicts = [S, G, W]
    assert group_rewards(verdicts, formatted=[False, True, True]) == [-1.0, 1.0, 0.0]
    assert group_rewards(verdicts, formatted=[False, True, True], format_penalty=-0.5) == [
        -0.5,
        1.0,
        0.0,
    ]
    assert group_rewards([None, G], formatted=[False, True]) == [-1.0, 1.0]
    for scheme in SCHEMES:
        assert group_rewards([M], scheme, formatted=[False])[0] == -1.0


def test_formatted_must_match_the_group():
    with pytest.raises(ValueError, match="one flag per rollout"):
        group_rewards([S, G], formatted=[True])


def test_verdicts_must_be_verdicts():
    with pytest.raises(TypeError, match=r"verdicts\[1\]"):
        group_rewards([S, "specific"])  # type: ignore[list-item]


def test_unknown_scheme_is_named():
    with pytest.raises(ValueError, match="unknown reward scheme 'dynamic'"):
        group_rewards([S], "dynamic")


def test_speciarl_single_rewards_only_the_first_best():
    assert group_rewards([G, S, M, S], "speciarl-single") == [0, 1, 0, 0]
    assert group_rewards([W, W], "speciarl-single") == [0, 0]
    assert group_rewards([W, A, A], "speciarl-single") == [0, 1, 0]
    assert group_rewards([S, S], "speciarl-single", formatted=[False, True]) == [-1, 1]


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("binary", [1, 1, 0, 0, 0, 0]),
        ("scala1", [1, 1, 0.75, 0.5, 0.25, 0]),
        ("scala2", [1, 1, 0.75, 0.5, 0, 0]),
        ("scala3", [1, 1, 0.75, 0, 0, 0]),
    ],
)
def test_static_schemes_match_the_paper(scheme, expected):
    assert group_rewards([M, S, L, G, A, W], scheme) == expected
    assert group_rewards([None], scheme) == [0.0]


verdict_or_none = st.one_of(st.none(), st.sampled_from(list(Verdict)))
groups = st.lists(verdict_or_none, min_size=1, max_size=16)


@given(groups, st.sampled_from(SCHEMES))
def test_wrong_never_earns_more_than_zero(verdicts, scheme):
    for verdict, reward in zip(verdicts, group_rewards(verdicts, scheme), strict=True):
        if verdict is W or verdict is None:
            assert reward <= 0.0


@given(groups, st.randoms(use_true_random=False))
def test_speciarl_is_invariant_to_group_order(verdicts, rng):
    rewards = group_rewards(verdicts)
    order = list(range(len(verdicts)))
    rng.shuffle(order)
    shuffled = group_rewards([verdicts[i] for i in order])
    assert shuffled == [rewards[i] for i in order]


@given(groups)
def test_best_rollout_gets_one_unless_all_are_wrong(verdicts):
    decided = [v for v in verdicts if v is not None]
    rewards = group_rewards(verdicts)
    if decided and max(decided) is not W:
        best = verdicts.index(max(decided))
        assert rewards[best] == 1.0
    else:
        assert set(rewards) == {0.0}


@given(groups, verdict_or_none, st.integers(min_value=0, max_value=16))
def test_adding_a_rollout_that_does_not_beat_the_reference_keeps_other_rewards(
    verdicts, extra, position
):
    reference = reference_level(verdicts)
    if extra is not None and (reference is None or min(extra, S) > reference):
        return  # this rollout would raise c*
    position = min(position, len(verdicts))
    before = group_rewards(verdicts)
    after = group_rewards([*verdicts[:position], extra, *verdicts[position:]])
    assert after[:position] + after[position + 1 :] == before


@given(groups, st.sampled_from(SCHEMES))
def test_rewards_are_within_bounds(verdicts, scheme):
    assert all(0.0 <= r <= 1.0 for r in group_rewards(verdicts, scheme))


def test_noise_is_seeded_and_reproducible():
    verdicts = [M, S, L, G, A, W, None] * 200
    first = add_verdict_noise(verdicts, 0.25, random.Random(7))
    assert first == add_verdict_noise(verdicts, 0.25, random.Random(7))
    assert first != add_verdict_noise(verdicts, 0.25, random.Random(8))
    assert add_verdict_noise(verdicts, 0.0, random.Random(1)) == verdicts


def test_noise_moves_one_step_along_the_ladder():
    ladder = [W, A, G, L, S]
    verdicts = [M, S, L, G, A, W, None] * 500
    noisy = add_verdict_noise(verdicts, 1.0, random.Random(3))
    moves: dict[Verdict | None, set] = {}
    for before, after in zip(verdicts, noisy, strict=True):
        moves.setdefault(before, set()).add(after)
    assert moves[None] == {None}
    assert moves[W] == {A}  # ends move inward
    assert moves[S] == {L}
    assert moves[M] == {L}  # more specific counts as specific
    for level in (A, G, L):
        i = ladder.index(level)
        assert moves[level] == {ladder[i - 1], ladder[i + 1]}


def test_noise_rate_matches_probability():
    verdicts = [G] * 20_000
    noisy = add_verdict_noise(verdicts, 0.1, random.Random(0))
    changed = sum(a is not b for a, b in zip(verdicts, noisy, strict=True)) / len(verdicts)
    assert 0.09 < changed < 0.11


def test_noise_probability_is_checked():
    with pytest.raises(ValueError, match="within"):
        add_verdict_noise([S], 1.5, random.Random(0))


def test_batch_rewards_groups_non_contiguous_items():
    verdicts = [G, S, W, L, None, W]
    group_ids = ["a", "b", "a", "a", "b", "c"]
    results = batch_rewards(verdicts, group_ids, formatted=[True, True, True, True, False, True])
    assert [r.reward for r in results] == [0.0, 1.0, 0.0, 1.0, -1.0, 0.0]
    assert [r.reference for r in results] == [L, S, L, L, S, A]
    assert [r.among_best for r in results] == [False, True, False, True, False, False]
    assert [r.verdict for r in results] == verdicts
    assert [r.formatted for r in results] == [True, True, True, True, False, True]


@given(st.lists(st.tuples(st.integers(0, 5), verdict_or_none), min_size=1, max_size=40))
def test_batch_rewards_equal_group_rewards_per_group(items):
    group_ids = [g for g, _ in items]
    verdicts = [v for _, v in items]
    results = batch_rewards(verdicts, group_ids, "speciarl-single")
    for group in set(group_ids):
        indices = [i for i, g in enumerate(group_ids) if g == group]
        expected = group_rewards([verdicts[i] for i in indices], "speciarl-single")
        assert [results[i].reward for i in indices] == expected


def test_batch_rewards_checks_lengths():
    with pytest.raises(ValueError, match="one group id per rollout"):
        batch_rewards([S, S], ["a"])


def test_static_tables_cover_every_verdict():
    for table in STATIC_SCHEMES.values():
        assert set(table) == set(Verdict)
