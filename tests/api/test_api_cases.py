"""/v1/cases against the real store (SQLite and PostgreSQL): lists (filters, order, cursor
pages, clamped page size), the case detail, every workflow step with its audit row and
request id, the verdict written for wallet.verdicts, roles and queues, error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.events import decode_verdict
from monitor.store import AlertStore
from tests.api.auth import ADMIN_TOKEN, bearer
from tests.api.casefiles import CLIENT_IP, XSS_PAYEE


def as_(tokens: dict[str, str], who: str, request_id: str | None = None) -> dict[str, str]:
    headers = bearer(ADMIN_TOKEN if who == "break-glass" else tokens[who])
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return headers


def ids(body: dict[str, Any]) -> list[str]:
    return [c["account_id"] for c in body["data"]]


# --- lists ----------------------------------------------------------------------------


def test_list_most_urgent_first(desk: TestClient, desk_tokens: dict[str, str]) -> None:
    r = desk.get("/v1/cases", headers=as_(desk_tokens, "viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert ids(body) == ["acc-1", "acc-2", "acc-3"]
    assert [c["priority"] for c in body["data"]] == ["P1", "P2", "P3"]
    assert [c["queue"] for c in body["data"]] == ["account_security", "payments", "topup"]
    assert (body["limit"], body["next_cursor"]) == (50, None)
    first = body["data"][0]
    assert (first["status"], first["alert_count"], first["assignee"]) == ("open", 2, None)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"queue": "payments"}, ["acc-2"]),
        ({"queue": ["payments", "topup"]}, ["acc-2", "acc-3"]),
        ({"status": "closed"}, []),
        ({"min_priority": "P2"}, ["acc-1", "acc-2"]),
        ({"min_severity": "high"}, ["acc-1", "acc-2"]),
        ({"rule_id": "new_device"}, ["acc-1"]),
        ({"account_id": "acc-3"}, ["acc-3"]),
        ({"unassigned": "true"}, ["acc-1", "acc-2", "acc-3"]),
        ({"assignee": "ana"}, []),
        ({"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00+02:00"}, []),
    ],
)
def test_list_filters(
    desk: TestClient, desk_tokens: dict[str, str], params: dict[str, Any], expected: list[str]
) -> None:
    r = desk.get("/v1/cases", params=params, headers=as_(desk_tokens, "viewer"))
    assert r.status_code == 200, r.text
    assert ids(r.json()) == expected


def test_cursor_pages_and_clamped_size(desk: TestClient, desk_tokens: dict[str, str]) -> None:
    viewer = as_(desk_tokens, "viewer")
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = desk.get("/v1/cases", params=params, headers=viewer).json()
        seen += ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["acc-1", "acc-2", "acc-3"]
    huge = desk.get("/v1/cases", params={"limit": 10**9}, headers=viewer)
    assert huge.status_code == 200 and huge.json()["limit"] == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cursor": "not-a-cursor"}, "not a cursor of this list"),
        ({"cursor": "WyJhbGVydHMiLCIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwiYSJd"}, "not a cursor"),
        ({"limit": 0}, "greater than or equal to 1"),
        ({"queue": "nowhere"}, "account_security"),
        ({"status": "maybe"}, "open"),
        ({"assignee": "ana", "unassigned": "true"}, "not both"),
        ({"since": "2024-05-01T10:00:00"}, "timezone offset"),
        ({"account_id": "acc\x00-1"}, "pattern"),
    ],
)
def test_bad_list_requests_are_422_with_a_message(
    desk: TestClient, desk_tokens: dict[str, str], params: dict[str, Any], message: str
) -> None:
    r = desk.get("/v1/cases", params=params, headers=as_(desk_tokens, "viewer"))
    assert r.status_code == 422, r.text
    assert message in r.text


# --- detail ---------------------------------------------------------------------------


def test_case_detail_has_everything_an_agent_needs(
    desk: TestClient, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    r = desk.get(f"/v1/cases/{case_ids['acc-1']}", headers=as_(desk_tokens, "viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["case"]["case_id"] == case_ids["acc-1"]
    # plain words first, most severe alert first
    assert body["reasons"][0].startswith("97% of the balance to new payee")
    assert body["reasons"][1] == "login from a device never seen"
    assert [a["severity"] for a in body["alerts"]] == ["medium", "critical"]
    assert body["alerts"][1]["reasons"][0]["values"]["payee_name"] == XSS_PAYEE  # JSON: as is
    assert body["alerts"][1]["learn_input"] == {"amount_z": 4.2}
    unusual = [t for t in body["timeline"] if t["unusual"]]
    assert len(unusual) == 2 and {t["kind"] for t in unusual} == {"alert"}
    assert any(t["kind"] == "action" for t in body["timeline"])
    features = {r["feature"] for r in body["restrictions"]}
    assert features == {"transfer_to_new_payee", "withdrawal", "large_payment"}
    assert all(r["expires_at"] > r["imposed_at"] for r in body["restrictions"])
    freeze = next(a for a in body["actions"] if a["type"] == "disable_payment_features")
    assert freeze["published_at"] is None  # no dispatcher here: still in the outbox
    assert freeze["webhook_state"] is None and freeze["expires_at"]
    assert (body["events"], body["notes"], body["verdicts"]) == ([], [], [])


def test_case_detail_is_masked_and_reveal_is_audited(
    desk: TestClient, store: AlertStore, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    case = case_ids["acc-2"]
    masked = desk.get(f"/v1/cases/{case}", headers=as_(desk_tokens, "analyst")).text
    assert CLIENT_IP not in masked and "203.0.113.x" in masked
    assert desk.post(f"/v1/cases/{case}/reveal", headers=as_(desk_tokens, "viewer")).status_code
    r = desk.post(
        f"/v1/cases/{case}/reveal",
        json={"reason": "customer on the phone"},
        headers=as_(desk_tokens, "pat", "req-reveal-1"),
    )
    assert r.status_code == 200, r.text
    assert CLIENT_IP in r.text
    (entry,) = store.audit_page(action="reveal")
    assert (entry.actor, entry.target, entry.request_id) == ("pat", f"case:{case}", "req-reveal-1")
    assert entry.after["reason"] == "customer on the phone"


def test_unknown_case_is_404(desk: TestClient, desk_tokens: dict[str, str]) -> None:
    for method, path in [("GET", ""), ("POST", "/claim"), ("POST", "/reveal")]:
        r = desk.request(method, f"/v1/cases/case_nope{path}", headers=as_(desk_tokens, "admin"))
        assert r.status_code == 404, (path, r.text)
        assert r.json() == {"detail": "no case 'case_nope'"}


# --- workflow -------------------------------------------------------------------------


def test_claim_ack_note_contact_escalate_each_audited(
    desk: TestClient, store: AlertStore, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    case = case_ids["acc-1"]
    ana = as_(desk_tokens, "analyst", "req-claim")
    claimed = desk.post(f"/v1/cases/{case}/claim", headers=ana)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["event"]["body"] == {"from": None, "to": "ana", "forced": False}
    assert claimed.json()["case"]["assignee"] == "ana"
    again = desk.post(f"/v1/cases/{case}/claim", headers=ana)  # same request id: no-op
    assert again.json()["event"]["seq"] == claimed.json()["event"]["seq"]

    def post(path: str, body: dict[str, Any] | None, rid: str) -> dict[str, Any]:
        r = desk.post(
            f"/v1/cases/{case}/{path}", json=body, headers=as_(desk_tokens, "analyst", rid)
        )
        assert r.status_code in (200, 201), (path, r.text)
        return dict(r.json())

    ack = post("acknowledge", None, "req-ack")
    assert ack["event"]["body"]["within_sla"] is True
    assert post("notes", {"text": "called the customer"}, "req-note")["event"]["kind"] == "note"
    contact = post(
        "contacts",
        {"channel": "phone", "summary": "confirms the new phone", "identity_verified": True},
        "req-contact",
    )
    assert contact["event"]["body"]["identity_verified"] is True
    escalated = post("escalate", {"reason": "needs a lead", "to_queue": "payments"}, "req-esc")
    assert escalated["case"]["queue"] == "payments"
    assert escalated["case"]["assignee"] is None
    rows = store.audit_page(target=f"case:{case}")
    assert [(e.action, e.actor, e.role, e.request_id) for e in reversed(rows)] == [
        ("case_claim", "ana", "analyst", "req-claim"),
        ("case_ack", "ana", "analyst", "req-ack"),
        ("case_note", "ana", "analyst", "req-note"),
        ("case_contact", "ana", "analyst", "req-contact"),
        ("case_escalate", "ana", "analyst", "req-esc"),
    ]
    detail = desk.get(f"/v1/cases/{case}", headers=as_(desk_tokens, "viewer")).json()
    assert [e["kind"] for e in detail["events"]] == ["claim", "ack", "note", "contact", "escalate"]
    assert [n["body"]["text"] for n in detail["notes"]] == ["called the customer"]


def test_verdict_publishes_for_the_model_and_restores(
    desk: TestClient, store: AlertStore, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    case = case_ids["acc-1"]
    r = desk.post(
        f"/v1/cases/{case}/verdict",
        json={"verdict": "legitimate", "note": "customer made the transfer", "restore": True},
        headers=as_(desk_tokens, "analyst", "req-verdict"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["case"]["status"] == "closed" and body["case"]["verdict"] == "legitimate"
    assert body["event"]["body"]["published"] == 2
    assert body["event"]["body"]["restore_action_id"]
    pending = store.pending_actions()
    verdicts = [decode_verdict(m.body) for m in pending if m.topic == "verdicts"]
    assert {(v.account_id, v.verdict) for v in verdicts} == {("acc-1", "legitimate")}
    assert len(verdicts) == 2  # one per alert of the case
    assert any(m.type == "restore_payment_features" for m in pending)
    detail = desk.get(f"/v1/cases/{case}", headers=as_(desk_tokens, "viewer")).json()
    assert detail["restrictions"] == []
    assert detail["verdicts"][0]["body"]["verdict"] == "legitimate"
    (verdict_row,) = store.audit_page(target=f"case:{case}")
    assert (verdict_row.action, verdict_row.request_id) == ("case_verdict", "req-verdict")
    (restore_row,) = store.audit_page(target="account:acc-1")
    assert (restore_row.action, restore_row.actor) == ("restore_payment_features", "ana")
    assert restore_row.request_id == "req-verdict:restore"
    # a closed case takes notes, not another verdict
    second = desk.post(
        f"/v1/cases/{case}/verdict",
        json={"verdict": "fraud", "note": "changed my mind"},
        headers=as_(desk_tokens, "analyst"),
    )
    assert second.status_code == 409
    assert "a closed case takes notes, not another verdict" in second.json()["detail"]


def test_restore_and_password_reset_by_hand(
    desk: TestClient, store: AlertStore, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    case = case_ids["acc-1"]
    admin = as_(desk_tokens, "admin")
    reset = desk.post(
        f"/v1/cases/{case}/password-reset",
        json={"reason": "customer lost the phone"},
        headers=admin,
    )
    assert reset.status_code == 202, reset.text
    assert reset.json()["action"]["type"] == "force_password_reset"
    lifted = desk.post(
        f"/v1/cases/{case}/restore", json={"reason": "verified by video call"}, headers=admin
    )
    assert lifted.status_code == 202, lifted.text
    assert set(lifted.json()["action"]["features"]) == {
        "transfer_to_new_payee",
        "withdrawal",
        "large_payment",
    }
    nothing_left = desk.post(f"/v1/cases/{case}/restore", json={"reason": "again"}, headers=admin)
    assert nothing_left.status_code == 422, nothing_left.text
    kinds = [e["kind"] for e in desk.get(f"/v1/cases/{case}", headers=admin).json()["events"]]
    assert kinds == ["password_reset", "restore"]


def test_queues_bound_analysts_and_force_is_for_admins(
    desk: TestClient, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    pat = as_(desk_tokens, "pat")
    outside = desk.post(f"/v1/cases/{case_ids['acc-1']}/claim", headers=pat)
    assert outside.status_code == 403
    assert outside.json()["detail"].endswith("is in queue account_security; your queues: payments")
    assert desk.post(f"/v1/cases/{case_ids['acc-2']}/claim", headers=pat).status_code == 200
    ana = as_(desk_tokens, "analyst")
    taken = desk.post(f"/v1/cases/{case_ids['acc-2']}/claim", headers=ana)
    assert taken.status_code == 409 and "is claimed by pat" in taken.json()["detail"]
    forced = desk.post(f"/v1/cases/{case_ids['acc-2']}/claim", json={"force": True}, headers=ana)
    assert forced.status_code == 403
    admin = as_(desk_tokens, "admin")
    took = desk.post(f"/v1/cases/{case_ids['acc-2']}/claim", json={"force": True}, headers=admin)
    assert took.status_code == 200 and took.json()["event"]["body"]["forced"] is True
    viewer = desk.post(f"/v1/cases/{case_ids['acc-3']}/claim", headers=as_(desk_tokens, "viewer"))
    assert viewer.status_code == 403


def test_assign_only_to_someone_who_works_the_queue(
    desk: TestClient, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    admin = as_(desk_tokens, "admin")
    case = case_ids["acc-1"]
    released = desk.post(f"/v1/cases/{case}/assign", json={"to": None}, headers=admin)
    assert released.status_code == 409, released.text  # nobody holds it
    wrong = desk.post(f"/v1/cases/{case}/assign", json={"to": "pat"}, headers=admin)
    assert wrong.status_code == 422 and "does not work queue" in wrong.json()["detail"]
    ghost = desk.post(f"/v1/cases/{case}/assign", json={"to": "ghost"}, headers=admin)
    assert ghost.status_code == 422
    given = desk.post(f"/v1/cases/{case}/assign", json={"to": "ana"}, headers=admin)
    assert given.status_code == 200 and given.json()["case"]["assignee"] == "ana"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("verdict", {"verdict": "maybe", "note": "x"}, "fraud"),
        ("verdict", {"verdict": "fraud", "note": "   "}, "a note is required"),
        ("verdict", {"verdict": "fraud", "note": "x", "restore": True}, "only a legitimate"),
        ("escalate", {"reason": "x", "priority": "P4"}, "cannot lower priority"),
        ("notes", {"text": "x" * 4001}, "at most 4000"),
        ("contacts", {"channel": "fax", "summary": "x", "identity_verified": False}, "phone"),
    ],
)
def test_bad_steps_are_422_with_the_reason(
    desk: TestClient,
    desk_tokens: dict[str, str],
    case_ids: dict[str, str],
    path: str,
    body: dict[str, Any],
    message: str,
) -> None:
    r = desk.post(
        f"/v1/cases/{case_ids['acc-1']}/{path}", json=body, headers=as_(desk_tokens, "admin")
    )
    assert r.status_code == 422, r.text
    assert message in r.text


def test_bulk_verdict_closes_each_case_and_reports_the_ones_it_cannot(
    desk: TestClient, store: AlertStore, desk_tokens: dict[str, str], case_ids: dict[str, str]
) -> None:
    first, second = case_ids["acc-2"], case_ids["acc-3"]
    closed = desk.post(
        f"/v1/cases/{first}/verdict",
        json={"verdict": "fraud", "note": "already decided"},
        headers=as_(desk_tokens, "admin"),
    )
    assert closed.status_code == 200, closed.text
    body = {
        "case_ids": [first, second, "no-such-case", second],
        "verdict": "fraud",
        "note": "one campaign, confirmed with the bank",
    }
    assert (
        desk.post(
            "/v1/cases/bulk/verdict", json=body, headers=as_(desk_tokens, "analyst")
        ).status_code
        == 403
    )
    r = desk.post("/v1/cases/bulk/verdict", json=body, headers=as_(desk_tokens, "admin", "bulk-1"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["done"], out["refused"]) == (1, 2)  # the repeated id counts once
    by_case = {o["case_id"]: o for o in out["outcomes"]}
    assert by_case[second]["ok"] and by_case[second]["status"] == 200
    assert by_case[first]["status"] == 409 and "closed" in by_case[first]["detail"]
    assert by_case["no-such-case"]["status"] == 404
    detail = desk.get(f"/v1/cases/{second}", headers=as_(desk_tokens, "viewer")).json()
    assert (detail["case"]["status"], detail["case"]["verdict"]) == ("closed", "fraud")
    (row,) = store.audit_page(target=f"case:{second}")
    assert (row.action, row.request_id) == ("case_verdict", f"bulk-1:{second}")
