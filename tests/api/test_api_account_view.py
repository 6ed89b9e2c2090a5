"""GET /v1/accounts/{id} (lookup) and /v1/accounts/{id}/risk (risk view) on the real
store: what is stored about an account, masked; 404 for one Vigil knows nothing about."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.auth import bearer
from tests.api.casefiles import CLIENT_IP


def test_lookup_shows_open_cases_and_restrictions(
    desk: TestClient, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    r = desk.get("/v1/accounts/acc-1", headers=bearer(desk_tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["case_id"] for c in body["open_cases"]] == [case_ids["acc-1"]]
    assert {x["feature"] for x in body["restrictions"]} == {
        "transfer_to_new_payee",
        "withdrawal",
        "large_payment",
    }
    assert body["alert_count"] == 2 and body["last_score"] == 0.95
    assert body["last_verdict"] is None


def test_risk_view_has_scores_over_time_and_is_masked(
    desk: TestClient, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    viewer = bearer(desk_tokens["viewer"])
    r = desk.get("/v1/accounts/acc-1/risk", headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["score"] for p in body["score_series"]] == [0.6, 0.95]  # oldest first
    assert [a["event_id"] for a in body["alerts"]] == ["d2", "d1"]  # newest first
    assert [c["case_id"] for c in body["cases"]] == [case_ids["acc-1"]]
    assert body["actions"] and body["restrictions"]
    other = desk.get("/v1/accounts/acc-2/risk", params={"limit": 10**6}, headers=viewer)
    assert other.status_code == 200
    assert CLIENT_IP not in other.text and "203.0.113.x" in other.text


def test_unknown_account_is_404(desk: TestClient, desk_tokens: dict[str, str]) -> None:
    viewer = bearer(desk_tokens["viewer"])
    for path in ("/v1/accounts/nobody", "/v1/accounts/nobody/risk"):
        r = desk.get(path, headers=viewer)
        assert r.status_code == 404
        assert "nothing to show" in r.json()["detail"]
    assert desk.get("/v1/accounts/" + "x" * 201, headers=viewer).status_code == 422
