"""The compiled Half-Space Trees are river's model: same splits, same scores, same
learning, event by event, for every event type's inputs — and they survive pickling."""

from __future__ import annotations

import pickle
import random

import pytest
from river import anomaly

from monitor.detectors.anomaly import LIMITS, NAMES
from monitor.detectors.hst import CompiledHST


def _inputs(event_type: str, rng: random.Random) -> dict[str, float]:
    """Mostly typical values with some at the edges, some zero (binary features)."""
    limits = LIMITS[event_type]
    out = {}
    for name, (low, high) in limits.items():
        roll = rng.random()
        if roll < 0.3:
            out[name] = low
        elif roll < 0.35:
            out[name] = high
        else:
            out[name] = rng.uniform(low, low + (high - low) * 0.4)
    return out


@pytest.mark.parametrize("event_type", sorted(LIMITS))
@pytest.mark.parametrize(("n_trees", "height", "window"), [(6, 6, 250), (3, 8, 40)])
def test_scores_equal_rivers_half_space_trees(event_type, n_trees, height, window):
    names = NAMES[event_type]
    limits = LIMITS[event_type]
    reference = anomaly.HalfSpaceTrees(
        n_trees=n_trees, height=height, window_size=window, limits=limits, seed=11
    )
    compiled = CompiledHST(
        names, limits, n_trees=n_trees, height=height, window_size=window, seed=11
    )
    rng = random.Random(event_type)
    scores = []
    for i in range(4 * window + 37):
        x = _inputs(event_type, rng)
        v = tuple(x[n] for n in names)
        expected = reference.score_one(x)
        assert compiled.score(v) == expected, i  # bit for bit
        scores.append(expected)
        if i % 3:
            reference.learn_one(x)
            compiled.learn(v)
    assert len(set(scores)) > 20  # windows swapped: the scores moved


def test_a_pickled_model_scores_and_learns_on_identically():
    limits = LIMITS["payment"]
    names = NAMES["payment"]
    model = CompiledHST(names, limits, n_trees=4, height=5, window_size=30, seed=2)
    rng = random.Random(5)
    stream = [tuple(_inputs("payment", rng)[n] for n in names) for _ in range(200)]
    for v in stream[:70]:
        model.learn(v)
    copy = pickle.loads(pickle.dumps(model))
    for v in stream[70:]:
        assert copy.score(v) == model.score(v)
        copy.learn(v)
        model.learn(v)
    assert copy.leaf_score == model.leaf_score


def test_unknown_until_the_first_window_closes():
    model = CompiledHST(["a"], {"a": (0.0, 1.0)}, n_trees=2, height=3, window_size=10, seed=1)
    for _ in range(9):
        model.learn((0.5,))
        assert model.score((0.99,)) == 0.0
    model.learn((0.5,))
    assert model.score((0.99,)) > model.score((0.5,))
