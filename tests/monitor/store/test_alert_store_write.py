"""Writing alerts: round trip, idempotency, non-alerts, one transaction per batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.decision import Decision, Reason
from monitor.store import AlertRecord, AlertStore, StoreError, StoreUnavailable

MakeDecision = Callable[..., Decision]


def test_round_trip_keeps_every_field(store: AlertStore, make_decision: MakeDecision) -> None:
    reasons = [
        Reason(
            code="rule:velocity",
            text="7 transfers in 5 min",
            rule_id="velocity",
            values={"count_5m": 7, "amount": 1234.5, "currency": "EUR", "ok": True},
        ),
        Reason(
            code="anomaly",
            text="amount unusual for this account",
            values={"top": [["amount_z", 4.2], ["hour", 0.3]], "nested": {"k": None}},
        ),
        Reason(code="bare", text="no values"),
    ]
    ts = 1_700_000_000.123456
    d = make_decision(
        "evt-1",
        account_id="acc-42",
        event_type="transfer",
        event_ts=ts,
        severity="critical",
        score=0.97,
        anomaly_score=0.9312,
        rule_ids=["velocity", "new_device"],
        reasons=reasons,
        actions=["disable_payment_features", "alert_support"],
        queue="account_security",
        learn_input={"amount": 7.1, "new_device": 1.0},
        rule_pack_version="0123456789ab",
    )
    before = datetime.now(UTC)
    assert store.save_decisions([d], positions=[(3, 12_345_678_901)]) == 1
    after = datetime.now(UTC)

    got = store.get_alert(d.alert_id)
    assert got is not None
    expected = AlertRecord(
        alert_id=d.alert_id,
        event_id="evt-1",
        account_id="acc-42",
        event_type="transfer",
        event_time=datetime.fromtimestamp(ts, UTC),
        detected_at=got.detected_at,
        score=0.97,
        anomaly_score=0.9312,
        severity="critical",
        rule_ids=["velocity", "new_device"],
        reasons=reasons,
        actions=["disable_payment_features", "alert_support"],
        queue="account_security",
        learn_input={"amount": 7.1, "new_device": 1.0},
        rule_pack_version="0123456789ab",
        partition=3,
        offset=12_345_678_901,
    )
    assert got == expected
    assert got.event_time.microsecond == 123456
    for t in (got.event_time, got.detected_at):
        assert t.utcoffset() == timedelta(0)
    assert before - timedelta(microseconds=1) <= got.detected_at <= after
    # list_alerts returns the same record as get_alert
    assert store.list_alerts() == ([got], 1)


def test_get_unknown_alert_is_none(store: AlertStore) -> None:
    assert store.get_alert("al_missing") is None


def test_saving_twice_stores_each_alert_once(
    store: AlertStore, make_decision: MakeDecision
) -> None:
    batch = [make_decision(f"evt-{i}", event_ts=1_700_000_000.0 + i) for i in range(3)]
    assert store.save_decisions(batch) == 3
    assert store.save_decisions(batch) == 0
    assert store.save_decisions([*batch, make_decision("evt-3")]) == 1
    assert store.count_alerts() == 4


def test_duplicate_event_in_one_batch_is_stored_once(
    store: AlertStore, make_decision: MakeDecision
) -> None:
    d = make_decision("evt-dup")
    assert store.save_decisions([d, d, d], positions=[(0, 1), (0, 2), (0, 3)]) == 1
    got = store.get_alert(d.alert_id)
    assert got is not None and got.offset == 1  # the first occurrence wins
    assert store.count_alerts() == 1


def test_replay_does_not_change_a_stored_alert(
    store: AlertStore, make_decision: MakeDecision
) -> None:
    first = make_decision("evt-1", severity="high", rule_ids=["velocity"])
    replay = make_decision("evt-1", severity="low", rule_ids=["geo"])
    store.save_decisions([first], positions=[(0, 10)])
    assert store.save_decisions([replay], positions=[(1, 99)]) == 0

    got = store.get_alert(first.alert_id)
    assert got is not None
    assert (got.severity, got.rule_ids, got.partition, got.offset) == (
        "high",
        ["velocity"],
        0,
        10,
    )
    assert store.list_alerts(rule_id="geo") == ([], 0)
    assert store.list_alerts(rule_id="velocity")[1] == 1


def test_non_alerts_are_not_stored(store: AlertStore, make_decision: MakeDecision) -> None:
    quiet = [make_decision(f"ok-{i}", severity="none", rule_ids=[]) for i in range(3)]
    assert store.save_decisions(quiet) == 0
    mixed = [quiet[0], make_decision("bad-1"), quiet[1], make_decision("bad-2", severity="low")]
    assert store.save_decisions(mixed) == 2
    assert store.count_alerts() == 2
    assert store.get_alert(quiet[0].alert_id) is None


def test_positions_follow_the_decision_index(
    store: AlertStore, make_decision: MakeDecision
) -> None:
    batch = [
        make_decision("ok-0", severity="none", rule_ids=[]),
        make_decision("bad-1"),
        make_decision("ok-2", severity="none", rule_ids=[]),
        make_decision("bad-3"),
    ]
    store.save_decisions(batch, positions=[(2, 100), (2, 101), (2, 102), (2, 103)])
    positions = {r.event_id: (r.partition, r.offset) for r in store.list_alerts()[0]}
    assert positions == {"bad-1": (2, 101), "bad-3": (2, 103)}


def test_positions_must_match_decisions(make_decision: MakeDecision) -> None:
    store = AlertStore("sqlite://")
    with pytest.raises(ValueError, match="positions"):
        store.save_decisions([make_decision("a"), make_decision("b")], positions=[(0, 1)])


def test_nothing_to_store_does_not_touch_the_database(
    tmp_path, make_decision: MakeDecision
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = AlertStore(f"sqlite:///{blocker / 'vigil.db'}")  # cannot be opened
    assert store.save_decisions([]) == 0
    assert store.save_decisions([make_decision("ok", severity="none", rule_ids=[])]) == 0
    with pytest.raises(StoreUnavailable):
        store.save_decisions([make_decision("bad")])


def _install_failure_triggers(store: AlertStore) -> None:
    """Make the database itself reject a row: alerts with event_id 'boom', or an
    alert_rules row with rule_id 'boom'."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name, table, column in (
                ("a", "alerts", "event_id"),
                ("r", "alert_rules", "rule_id"),
            ):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER boom_{name} BEFORE INSERT ON {table} "
                        f"WHEN NEW.{column} = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
                    )
                )
        else:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF to_jsonb(NEW) ->> TG_ARGV[0] = 'boom' THEN RAISE EXCEPTION 'boom'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            for name, table, column in (
                ("a", "alerts", "event_id"),
                ("r", "alert_rules", "rule_id"),
            ):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER boom_{name} BEFORE INSERT ON {table} "
                        f"FOR EACH ROW EXECUTE FUNCTION boom('{column}')"
                    )
                )


@pytest.mark.parametrize("failing_table", ["alerts", "alert_rules"])
def test_a_failing_batch_stores_nothing(
    store: AlertStore, make_decision: MakeDecision, failing_table: str
) -> None:
    _install_failure_triggers(store)
    # Large enough that the alert insert is sent in several multi-row statements.
    batch = [make_decision(f"evt-{i}", rule_ids=["velocity", "geo"]) for i in range(2_500)]
    if failing_table == "alerts":
        batch.append(make_decision("boom"))
    else:
        batch.append(make_decision("evt-last", rule_ids=["velocity", "boom"]))

    with pytest.raises(StoreError, match="boom") as info:
        store.save_decisions(batch)
    assert not isinstance(info.value, StoreUnavailable)
    assert store.count_alerts() == 0
    assert store.list_alerts(rule_id="velocity") == ([], 0)

    # The store is still usable, and the good part of the batch can be saved.
    assert store.save_decisions(batch[:-1]) == 2_500
    assert store.list_alerts(rule_id="geo", limit=0) == ([], 2_500)


def test_shadow_hits_are_recorded_once_and_counted(store: AlertStore) -> None:
    from monitor.decision import Reason, decide

    hit = Reason(code="rule:r2", text="would fire", rule_id="r2", values={"x": 1})
    active = Reason(code="rule:r1", text="fires", rule_id="r1")
    decisions = [
        decide(
            event_id="e1",
            account_id="a",
            event_type="login",
            event_ts=1e9,
            rule_hits=[],
            anomaly=None,
            shadow_hits=[hit],
            rule_pack_version="v1",
        ),
        decide(
            event_id="e2",
            account_id="a",
            event_type="login",
            event_ts=1e9 + 1,
            rule_hits=[("high", 0.8, active)],
            anomaly=None,
            shadow_hits=[hit],
            rule_pack_version="v1",
        ),
    ]
    assert store.save_decisions(decisions) == 1  # one alert; the shadow-only event is not one
    store.save_decisions(decisions)  # a replay records nothing twice
    assert store.shadow_hit_counts() == {"r2": 2}
    assert store.rule_hit_counts() == {"r1": 1}
    (alert,) = store.list_alerts()[0]
    assert alert.rule_pack_version == "v1"
