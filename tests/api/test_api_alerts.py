"""GET /v1/alerts and /v1/alerts/{id} against the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from monitor.config import Settings
from monitor.decision import alert_id_for
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer

NEWEST_FIRST = ["e6", "e5", "e4", "e3", "e2", "e1"]


def event_ids(body: dict) -> list[str]:
    return [a["event_id"] for a in body["data"]]


def test_list_all_newest_first_without_non_alerts(client: TestClient) -> None:
    r = client.get("/v1/alerts")
    assert r.status_code == 200
    body = r.json()
    assert event_ids(body) == NEWEST_FIRST  # e7 (severity none) is no alert
    assert body["count"] == 6
    assert (body["limit"], body["offset"], body["next_offset"]) == (50, 0, None)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"account_id": "acc-1"}, ["e2", "e1"]),
        ({"severity": "high"}, ["e6", "e2"]),
        ({"min_severity": "high"}, ["e6", "e4", "e2"]),
        ({"rule_id": "new_device"}, ["e3", "e2"]),
        # since inclusive, until exclusive, on event time
        ({"since": "2024-05-01T12:10:00Z", "until": "2024-05-01T12:30:00Z"}, ["e3", "e2"]),
        ({"since": "2024-05-01T14:40:00+02:00"}, ["e6", "e5"]),
        ({"account_id": "acc-3", "min_severity": "medium", "rule_id": "drain"}, ["e6"]),
        ({"account_id": "nobody"}, []),
    ],
)
def test_filters(client: TestClient, params: dict[str, str], expected: list[str]) -> None:
    r = client.get("/v1/alerts", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert event_ids(body) == expected
    assert body["count"] == len(expected)


def test_unencoded_plus_in_offset_is_understood(client: TestClient) -> None:
    # curl "...?since=2024-05-01T14:40:00+02:00": the "+" arrives as a space.
    r = client.get("/v1/alerts?since=2024-05-01T14:40:00+02:00")
    assert r.status_code == 200, r.text
    assert event_ids(r.json()) == ["e6", "e5"]


def test_pagination_walks_every_alert_once(client: TestClient) -> None:
    first = client.get("/v1/alerts", params={"limit": 4}).json()
    assert event_ids(first) == NEWEST_FIRST[:4]
    assert (first["count"], first["limit"], first["offset"], first["next_offset"]) == (6, 4, 0, 4)

    second = client.get("/v1/alerts", params={"limit": 4, "offset": first["next_offset"]}).json()
    assert event_ids(second) == NEWEST_FIRST[4:]
    assert (second["count"], second["offset"], second["next_offset"]) == (6, 4, None)

    past_end = client.get("/v1/alerts", params={"offset": 10}).json()
    assert (past_end["data"], past_end["count"], past_end["next_offset"]) == ([], 6, None)


def test_paged_filter_counts_all_matches(client: TestClient) -> None:
    body = client.get("/v1/alerts", params={"min_severity": "medium", "limit": 2}).json()
    assert event_ids(body) == ["e6", "e5"]
    assert body["count"] == 5
    assert body["next_offset"] == 2


def test_get_alert_with_reasons_and_values(client: TestClient) -> None:
    r = client.get(f"/v1/alerts/{alert_id_for('e2')}")
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["alert_id"] == alert_id_for("e2")
    assert (a["event_id"], a["account_id"], a["event_type"]) == ("e2", "acc-1", "transfer")
    assert (a["severity"], a["score"], a["anomaly_score"]) == ("high", 0.8, None)
    assert a["rule_ids"] == ["drain", "new_device"]
    assert a["reasons"] == [
        {
            "code": "rule:drain",
            "text": "drain fired",
            "rule_id": "drain",
            "values": {"amount": 950.0, "balance_share": 0.97},
        },
        {
            "code": "rule:new_device",
            "text": "new_device fired",
            "rule_id": "new_device",
            "values": {"device": "d-9"},
        },
    ]
    assert datetime.fromisoformat(a["event_time"]) == datetime(2024, 5, 1, 12, 10, tzinfo=UTC)
    assert datetime.fromisoformat(a["detected_at"]).utcoffset() is not None
    assert (a["partition"], a["offset"]) == (1, 101)


def test_list_includes_reason_values(client: TestClient) -> None:
    body = client.get("/v1/alerts", params={"account_id": "acc-2", "severity": "critical"}).json()
    [alert] = body["data"]
    assert alert["reasons"][0]["values"] == {"amount": 950.0, "balance_share": 0.97}


def test_get_missing_alert_is_404(client: TestClient) -> None:
    r = client.get("/v1/alerts/al_nope")
    assert r.status_code == 404
    assert r.json() == {"detail": "alert al_nope not found"}
    # A decision that was no alert was never stored.
    assert client.get(f"/v1/alerts/{alert_id_for('e7')}").status_code == 404


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"severity": "urgent"}, "severity", "'high' or 'critical'"),
        ({"min_severity": "HIGH"}, "min_severity", "'high' or 'critical'"),
        ({"since": "2024-05-01T12:00:00"}, "since", "must include a timezone offset"),
        ({"until": "2024-05-01"}, "until", "must include a timezone offset"),
        ({"since": "yesterday"}, "since", "valid datetime"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 501}, "limit", "less than or equal to 500"),
        ({"offset": -1}, "offset", "greater than or equal to 0"),
    ],
)
def test_invalid_query_is_422_naming_the_field(
    sqlite_client: TestClient, params: dict[str, object], field: str, message: str
) -> None:
    r = sqlite_client.get("/v1/alerts", params=params)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", field]
    assert message in error["msg"]


def test_since_after_until_is_422(sqlite_client: TestClient) -> None:
    r = sqlite_client.get(
        "/v1/alerts", params={"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}
    )
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert "since must not be after until" in error["msg"]


def test_limit_bounds_are_inclusive(sqlite_client: TestClient) -> None:
    assert len(sqlite_client.get("/v1/alerts", params={"limit": 1}).json()["data"]) == 1
    assert sqlite_client.get("/v1/alerts", params={"limit": 500}).json()["limit"] == 500


@pytest.fixture
def unreachable_client(settings: Settings) -> Iterator[TestClient]:
    store = AlertStore("postgresql+psycopg://postgres@127.0.0.1:1/x")
    try:
        # the break-glass token: user tokens need the database to be checked
        with TestClient(create_app(settings, store), headers=bearer(ADMIN_TOKEN)) as c:
            yield c
    finally:
        store.close()


@pytest.mark.parametrize("path", ["/v1/alerts", "/v1/alerts/al_x"])
def test_unreachable_database_is_503(unreachable_client: TestClient, path: str) -> None:
    r = unreachable_client.get(path)
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert detail.startswith("database unavailable: ")
    assert detail.count("database unavailable") == 1
    assert "127.0.0.1" in detail or "connect" in detail.lower()
