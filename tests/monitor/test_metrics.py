"""The service's metrics: the batch histogram reads as prometheus_client's own."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from monitor.metrics import _SLOW, BatchHistogram, Metrics

latencies = st.lists(
    st.floats(min_value=0.0, max_value=30.0, allow_nan=False) | st.sampled_from(_SLOW),
    max_size=50,
)


def _exposed(registry: CollectorRegistry) -> list[str]:
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(latencies, max_size=4))
def test_batch_histogram_exposes_what_histogram_does(batches):
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("vigil_x_seconds", "X", buckets=_SLOW, registry=ours)
    plain = Histogram("vigil_x_seconds", "X", buckets=_SLOW, registry=theirs)
    for values in batches:
        batch.observe_many(values)
        for v in values:
            plain.observe(v)
    assert _exposed(ours) == _exposed(theirs)


def test_batches_observed_from_two_threads_are_all_counted():
    registry = CollectorRegistry()
    h = BatchHistogram("vigil_x_seconds", "X", buckets=_SLOW, registry=registry)

    def observe() -> None:
        for _ in range(200):
            h.observe_many([0.002] * 10)

    threads = [threading.Thread(target=observe) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert registry.get_sample_value("vigil_x_seconds_count") == 4000
    assert registry.get_sample_value("vigil_x_seconds_bucket", {"le": "0.001"}) == 0
    assert registry.get_sample_value("vigil_x_seconds_bucket", {"le": "0.0025"}) == 4000
    assert registry.get_sample_value("vigil_x_seconds_sum") == pytest.approx(8.0)


def test_decision_latency_is_in_the_service_exposition():
    m = Metrics()
    m.decision_latency_seconds.observe_many([0.004, 0.2])
    text = m.exposition().decode()
    assert 'vigil_decision_latency_seconds_bucket{le="0.005"} 1.0' in text
    assert "vigil_decision_latency_seconds_count 2.0" in text
