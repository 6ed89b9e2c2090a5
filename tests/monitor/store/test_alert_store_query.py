"""Reading alerts: filters, ordering, pagination and totals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.decision import SEVERITY_RANK, Decision
from monitor.store import AlertStore

MakeDecision = Callable[..., Decision]

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def at(offset_s: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset_s, UTC)


@pytest.fixture
def seeded(store: AlertStore, make_decision: MakeDecision) -> list[Decision]:
    """20 alerts over two accounts, all severities, overlapping rules, and ties in time."""
    severities = ["low", "medium", "high", "critical"]
    rules = [["velocity"], ["geo"], ["velocity", "geo"], ["new_device"]]
    decisions = [
        make_decision(
            f"evt-{i:02d}",
            account_id="acc-a" if i % 2 else "acc-b",
            event_ts=T0 + (i // 3) * 60,  # groups of three share an event time
            severity=severities[i % 4],
            rule_ids=rules[(i // 2) % 4],
        )
        for i in range(20)
    ]
    noise = [make_decision(f"ok-{i}", severity="none", rule_ids=[]) for i in range(5)]
    assert store.save_decisions(decisions + noise) == 20
    return decisions


def expected_order(decisions: list[Decision]) -> list[str]:
    ordered = sorted(decisions, key=lambda d: (d.event_ts, d.alert_id), reverse=True)
    return [d.alert_id for d in ordered]


def ids(page: list) -> list[str]:
    return [r.alert_id for r in page]


def test_newest_first_with_alert_id_tie_break(store: AlertStore, seeded: list[Decision]) -> None:
    page, total = store.list_alerts(limit=100)
    assert total == 20
    assert ids(page) == expected_order(seeded)
    assert [r.event_time for r in page] == sorted((r.event_time for r in page), reverse=True)


@pytest.mark.parametrize(
    ("kwargs", "predicate"),
    [
        ({"account_id": "acc-a"}, lambda d: d.account_id == "acc-a"),
        ({"account_id": "nobody"}, lambda d: False),
        ({"severity": "high"}, lambda d: d.severity == "high"),
        ({"min_severity": "medium"}, lambda d: SEVERITY_RANK[d.severity] >= 2),
        ({"min_severity": "low"}, lambda d: True),
        ({"min_severity": "critical"}, lambda d: d.severity == "critical"),
        ({"rule_id": "geo"}, lambda d: "geo" in d.rule_ids),
        ({"rule_id": "velocity"}, lambda d: "velocity" in d.rule_ids),
        ({"rule_id": "unknown"}, lambda d: False),
        ({"since": at(120)}, lambda d: d.event_ts >= T0 + 120),
        ({"until": at(120)}, lambda d: d.event_ts < T0 + 120),
        ({"since": at(60), "until": at(180)}, lambda d: T0 + 60 <= d.event_ts < T0 + 180),
        ({"since": at(61), "until": at(180)}, lambda d: T0 + 61 <= d.event_ts < T0 + 180),
        ({"since": at(60), "until": at(60)}, lambda d: False),
        (
            {"rule_id": "geo", "since": at(60), "until": at(240)},
            lambda d: "geo" in d.rule_ids and T0 + 60 <= d.event_ts < T0 + 240,
        ),
        (
            {"account_id": "acc-b", "min_severity": "high", "rule_id": "velocity"},
            lambda d: (
                d.account_id == "acc-b"
                and SEVERITY_RANK[d.severity] >= 3
                and "velocity" in d.rule_ids
            ),
        ),
    ],
)
def test_filters(store: AlertStore, seeded: list[Decision], kwargs: dict, predicate) -> None:
    want = [d for d in seeded if predicate(d)]
    page, total = store.list_alerts(limit=100, **kwargs)
    assert ids(page) == expected_order(want)
    assert total == len(want)


def test_time_filters_accept_any_timezone_and_naive_utc(
    store: AlertStore, seeded: list[Decision]
) -> None:
    plus2 = timezone(timedelta(hours=2))
    utc_result = store.list_alerts(since=at(60), until=at(180))
    assert utc_result[1] > 0
    assert store.list_alerts(since=at(60).astimezone(plus2), until=at(180).astimezone(plus2)) == (
        utc_result
    )
    naive = (at(60).replace(tzinfo=None), at(180).replace(tzinfo=None))
    assert store.list_alerts(since=naive[0], until=naive[1]) == utc_result


def test_microsecond_boundaries(store: AlertStore, make_decision: MakeDecision) -> None:
    store.save_decisions([make_decision("e", event_ts=T0 + 0.5)])
    exact = datetime.fromtimestamp(T0 + 0.5, UTC)
    one_us = timedelta(microseconds=1)
    assert store.list_alerts(since=exact)[1] == 1
    assert store.list_alerts(since=exact + one_us)[1] == 0
    assert store.list_alerts(until=exact)[1] == 0
    assert store.list_alerts(until=exact + one_us)[1] == 1


def test_pagination_walks_every_alert_once(store: AlertStore, seeded: list[Decision]) -> None:
    walked: list[str] = []
    for offset in range(0, 21, 3):
        page, total = store.list_alerts(limit=3, offset=offset)
        assert total == 20
        assert len(page) == min(3, 20 - offset)
        walked += ids(page)
    assert walked == expected_order(seeded)


def test_pagination_with_a_filter_keeps_the_filtered_total(
    store: AlertStore, seeded: list[Decision]
) -> None:
    want = expected_order([d for d in seeded if d.account_id == "acc-a"])
    page, total = store.list_alerts(account_id="acc-a", limit=4, offset=4)
    assert (ids(page), total) == (want[4:8], len(want))


def test_pagination_by_rule(store: AlertStore, seeded: list[Decision]) -> None:
    want = expected_order([d for d in seeded if "velocity" in d.rule_ids])
    walked: list[str] = []
    for offset in range(0, len(want), 4):
        page, total = store.list_alerts(rule_id="velocity", limit=4, offset=offset)
        assert total == len(want)
        walked += ids(page)
    assert walked == want


def test_past_the_end_and_zero_limit(store: AlertStore, seeded: list[Decision]) -> None:
    assert store.list_alerts(offset=100) == ([], 20)
    assert store.list_alerts(limit=0) == ([], 20)
    assert len(store.list_alerts()[0]) == 20  # default limit 50


def test_counts(store: AlertStore, seeded: list[Decision]) -> None:
    assert store.count_alerts() == 20


def test_empty_store(store: AlertStore) -> None:
    assert store.list_alerts() == ([], 0)
    assert store.count_alerts() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"severity": "urgent"},
        {"min_severity": "HIGH"},
        {"limit": -1},
        {"offset": -5},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict) -> None:
    store = AlertStore("sqlite://")
    store.create_schema()
    with pytest.raises(ValueError):
        store.list_alerts(**kwargs)
