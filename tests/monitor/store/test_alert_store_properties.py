"""Property: however decisions are batched and replayed, each alerting event is
stored exactly once and the returned counts add up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.decision import Decision, Reason
from monitor.store import AlertStore

SEVERITIES = ["none", "low", "medium", "high", "critical"]

decisions = st.builds(
    lambda n, severity, account, rules, ts: Decision(
        event_id=f"evt-{n}",
        account_id=f"acc-{account}",
        event_type="transfer",
        event_ts=ts,
        severity=severity,
        score=0.5,
        anomaly_score=None,
        rule_ids=rules,
        reasons=[Reason(code=r, text=r, rule_id=r) for r in rules],
    ),
    n=st.integers(0, 30),  # a small id space so replays and in-batch duplicates happen
    severity=st.sampled_from(SEVERITIES),
    account=st.integers(0, 3),
    rules=st.lists(st.sampled_from(["r1", "r2", "r3"]), max_size=3),
    ts=st.floats(1.6e9, 1.8e9),
)


@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.lists(decisions, max_size=15), max_size=6))
def test_each_alerting_event_is_stored_once(batches: list[list[Decision]]) -> None:
    store = AlertStore("sqlite://")
    store.create_schema()
    first_seen: dict[str, Decision] = {}
    for batch in batches:
        for d in batch:
            if d.is_alert:
                first_seen.setdefault(d.event_id, d)

    inserted = sum(store.save_decisions(batch) for batch in batches)
    assert inserted == len(first_seen) == store.count_alerts()
    assert sum(store.save_decisions(batch) for batch in batches) == 0  # full replay

    page, total = store.list_alerts(limit=1000)
    assert total == len(first_seen)
    assert {r.event_id for r in page} == set(first_seen)
    for rule in ("r1", "r2", "r3"):
        want = {e for e, d in first_seen.items() if rule in d.rule_ids}
        assert {r.event_id for r in store.list_alerts(rule_id=rule, limit=1000)[0]} == want
    store.close()
