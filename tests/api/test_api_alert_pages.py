"""GET /v1/alerts paged by cursor (stable while alerts arrive) as well as by offset, and
filtered by queue."""

from __future__ import annotations

import msgspec
from fastapi.testclient import TestClient

from monitor.store import AlertStore
from tests.api.conftest import seed_decisions

NEWEST_FIRST = ["e6", "e5", "e4", "e3", "e2", "e1"]


def test_cursor_pages_cover_every_alert_once(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/alerts", params=params).json()
        assert body["count"] == 6
        seen += [a["event_id"] for a in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert body["offset"] is None or body["offset"] == 0
    assert seen == NEWEST_FIRST


def test_an_offset_page_hands_out_the_next_cursor(client: TestClient) -> None:
    first = client.get("/v1/alerts", params={"limit": 2}).json()
    assert first["next_offset"] == 2 and first["next_cursor"]
    second = client.get("/v1/alerts", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [a["event_id"] for a in second["data"]] == ["e4", "e3"]
    assert (second["offset"], second["next_offset"]) == (None, None)


def test_cursor_pages_are_stable_while_alerts_arrive(
    client: TestClient, seeded_store: AlertStore
) -> None:
    first = client.get("/v1/alerts", params={"limit": 3}).json()
    newest = next(d for d in seed_decisions() if d.event_id == "e6")
    seeded_store.save_decisions([msgspec.structs.replace(newest, event_id="e9")])
    rest = client.get("/v1/alerts", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert [a["event_id"] for a in rest["data"]] == ["e3", "e2", "e1"]  # no shift, no repeat


def test_bad_cursor_and_cursor_with_offset_are_422(client: TestClient) -> None:
    bad = client.get("/v1/alerts", params={"cursor": "garbage"})
    assert bad.status_code == 422 and "not a cursor of this list" in bad.json()["detail"]
    both = client.get("/v1/alerts", params={"cursor": "x", "offset": 2})
    assert both.status_code == 422 and "not both" in both.text


def test_queue_filter_by_offset_and_by_cursor(
    desk: TestClient, desk_tokens: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {desk_tokens['viewer']}"}
    body = desk.get("/v1/alerts", params={"queue": "account_security"}, headers=headers).json()
    assert [a["event_id"] for a in body["data"]] == ["d2", "d1"]
    page = desk.get("/v1/alerts", params={"queue": "account_security", "limit": 1}, headers=headers)
    cursor = page.json()["next_cursor"]
    rest = desk.get(
        "/v1/alerts", params={"queue": "account_security", "cursor": cursor}, headers=headers
    ).json()
    assert [a["event_id"] for a in rest["data"]] == ["d1"]
    assert rest["count"] == 2 and rest["next_cursor"] is None
    wrong = desk.get("/v1/alerts", params={"queue": "nowhere"}, headers=headers)
    assert wrong.status_code == 422
