"""Standard Webhooks signing and verification, and the verifier printed in docs/webhooks.md.

Every rejection case runs twice: against ``monitor.responders.signing`` and against the
copy-pasteable verifier executed from the documentation, which must also be the same
source text, so the documented code is the code that is tested.
"""

from __future__ import annotations

import base64
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from monitor.responders import signing
from monitor.responders.exceptions import WebhookConfigError, WebhookVerificationError
from monitor.responders.signing import ReplayGuard, new_secret, secret_key, sign, verify

DOC = Path(__file__).parents[3] / "docs" / "webhooks.md"

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
T0 = 1_767_225_600
BODY = b'{"action_id":"act_1","type":"require_step_up","account_id":"a1"}'


def _doc_blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def _doc_verifier() -> dict[str, Any]:
    (block,) = [b for b in _doc_blocks("python") if "def verify(" in b]
    namespace: dict[str, Any] = {"__name__": "doc_verifier"}
    exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


@pytest.fixture(params=["library", "docs"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The library's verifier, or the one printed in the docs."""
    if request.param == "library":
        return SimpleNamespace(
            verify=verify, ReplayGuard=ReplayGuard, Error=WebhookVerificationError
        )
    ns = _doc_verifier()
    return SimpleNamespace(
        verify=ns["verify"], ReplayGuard=ns["ReplayGuard"], Error=ns["WebhookVerificationError"]
    )


# --- interoperability and the documentation ------------------------------------------


def test_the_specification_test_vector() -> None:
    # libraries/python/tests/test_webhooks.py of standard-webhooks/standard-webhooks
    headers = sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_the_documented_worked_example_is_what_the_code_computes() -> None:
    (block,) = [b for b in _doc_blocks("text") if "signed content:" in b]
    values = dict(re.findall(r"^([a-zA-Z ()-]+?):\s+(.*)$", block, flags=re.M))
    body = values["body"].encode()
    assert secret_key(values["secret"]) == values["key bytes (ASCII)"].encode()
    assert values["signed content"] == (
        f"{values['webhook-id']}.{values['webhook-timestamp']}.{values['body']}"
    )
    headers = sign(values["webhook-id"], int(values["webhook-timestamp"]), body, [values["secret"]])
    assert headers["webhook-signature"] == values["webhook-signature"]
    both = sign(
        values["webhook-id"],
        int(values["webhook-timestamp"]),
        body,
        [values["secret"], values["second secret"]],
    )
    assert both["webhook-signature"] == values["both secrets"]
    # the HTTP example at the top of the page shows the same delivery
    (http,) = _doc_blocks("http")
    for name, value in headers.items():
        assert f"{name}: {value}\n" in http
    assert http.rstrip("\n").endswith(values["body"])


def test_the_documented_verifier_is_the_library_source_verbatim() -> None:
    (block,) = [b for b in _doc_blocks("python") if "def verify(" in b]
    for obj in (signing.secret_key, signing.verify, signing.ReplayGuard):
        assert inspect.getsource(obj) in block, f"docs/webhooks.md has a stale {obj.__name__}"


def test_the_documented_verifier_accepts_the_worked_example() -> None:
    ns = _doc_verifier()
    (block,) = [b for b in _doc_blocks("text") if "signed content:" in b]
    values = dict(re.findall(r"^([a-zA-Z ()-]+?):\s+(.*)$", block, flags=re.M))
    headers = {k: values[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    now = int(values["webhook-timestamp"]) + 299
    ns["verify"](headers, values["body"].encode(), [values["secret"]], now=now)
    with pytest.raises(ns["WebhookVerificationError"]) as caught:
        ns["verify"](headers, values["body"].encode(), [values["secret"]], now=now + 2)
    assert caught.value.reason == "too_old"


# --- verification, on both implementations ------------------------------------------


def test_a_good_delivery_verifies(impl: SimpleNamespace) -> None:
    headers = sign("act_1", T0, BODY, [SECRET])
    impl.verify(headers, BODY, [SECRET], now=T0)
    upper = {k.upper(): v for k, v in headers.items()}  # header names in any case
    impl.verify(upper, BODY, [SECRET.removeprefix("whsec_")], now=T0 + 300)


def _drop(name: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {k: v for k, v in h.items() if k != name}


def _set(name: str, value: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {**h, name: value}


@pytest.mark.parametrize(
    ("change_headers", "body", "secrets", "now", "reason"),
    [
        pytest.param(None, BODY + b" ", [SECRET], T0, "bad_signature", id="tampered-body"),
        pytest.param(None, BODY.replace(b"a1", b"a2"), [SECRET], T0, "bad_signature", id="payee"),
        pytest.param(None, BODY, [OTHER], T0, "bad_signature", id="wrong-secret"),
        pytest.param(_set("webhook-id", "act_2"), BODY, [SECRET], T0, "bad_signature", id="id"),
        pytest.param(
            _set("webhook-timestamp", str(T0 + 1)), BODY, [SECRET], T0, "bad_signature", id="ts"
        ),
        pytest.param(None, BODY, [SECRET], T0 + 301, "too_old", id="stale"),
        pytest.param(None, BODY, [SECRET], T0 - 301, "too_new", id="future"),
        pytest.param(_drop("webhook-id"), BODY, [SECRET], T0, "missing_headers", id="no-id"),
        pytest.param(_drop("webhook-timestamp"), BODY, [SECRET], T0, "missing_headers", id="no-ts"),
        pytest.param(
            _drop("webhook-signature"), BODY, [SECRET], T0, "missing_headers", id="no-sig"
        ),
        pytest.param(_set("webhook-id", ""), BODY, [SECRET], T0, "missing_headers", id="empty-id"),
        pytest.param(
            _set("webhook-timestamp", "1767225600.5"), BODY, [SECRET], T0, "bad_timestamp", id="f"
        ),
        pytest.param(_set("webhook-timestamp", "²"), BODY, [SECRET], T0, "bad_timestamp", id="u"),
        pytest.param(
            _set("webhook-signature", "v2,xyz v1a,abc v1,%%% garbage"),
            BODY,
            [SECRET],
            T0,
            "bad_signature",
            id="malformed-signatures",
        ),
    ],
)
def test_rejections_name_their_reason(
    impl: SimpleNamespace,
    change_headers: Callable[[dict[str, str]], dict[str, str]] | None,
    body: bytes,
    secrets: list[str],
    now: int,
    reason: str,
) -> None:
    headers = sign("act_1", T0, BODY, [SECRET])
    if change_headers is not None:
        headers = change_headers(headers)
    with pytest.raises(impl.Error) as caught:
        impl.verify(headers, body, secrets, now=now)
    assert caught.value.reason == reason
    assert str(caught.value)


def test_the_missing_headers_are_named(impl: SimpleNamespace) -> None:
    with pytest.raises(impl.Error, match="webhook-timestamp, webhook-signature"):
        impl.verify({"webhook-id": "act_1"}, BODY, [SECRET], now=T0)


def test_the_tolerance_is_inclusive_and_configurable(impl: SimpleNamespace) -> None:
    headers = sign("act_1", T0, BODY, [SECRET])
    impl.verify(headers, BODY, [SECRET], now=T0 + 300)
    impl.verify(headers, BODY, [SECRET], now=T0 - 300)
    with pytest.raises(impl.Error, match="tolerance 60"):
        impl.verify(headers, BODY, [SECRET], now=T0 + 61, tolerance_s=60)


def test_rotation_old_and_new_signatures(impl: SimpleNamespace) -> None:
    headers = sign("act_1", T0, BODY, [SECRET, NEW])
    assert len(headers["webhook-signature"].split(" ")) == 2
    impl.verify(headers, BODY, [NEW], now=T0)  # a receiver already switched
    impl.verify(headers, BODY, [SECRET], now=T0)  # a receiver not yet switched
    impl.verify(headers, BODY, [OTHER, NEW], now=T0)
    with pytest.raises(impl.Error) as caught:
        impl.verify(headers, BODY, [OTHER], now=T0)
    assert caught.value.reason == "bad_signature"
    # after the rotation the old secret alone no longer verifies
    with pytest.raises(impl.Error):
        impl.verify(sign("act_1", T0, BODY, [NEW]), BODY, [SECRET], now=T0)


def test_a_receiver_without_secrets_is_a_configuration_error(impl: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="no webhook secret"):
        impl.verify(sign("act_1", T0, BODY, [SECRET]), BODY, [], now=T0)


def test_the_replay_guard_reports_a_second_sight_within_its_ttl(impl: SimpleNamespace) -> None:
    guard = impl.ReplayGuard(ttl_s=600)
    assert guard.seen_before("act_1", now=1000.0) is False
    assert guard.seen_before("act_1", now=1001.0) is True
    assert guard.seen_before("act_2", now=1300.0) is False
    assert guard.seen_before("act_1", now=1599.0) is True
    assert guard.seen_before("act_1", now=1600.0) is False  # forgotten after ttl_s, seen anew
    assert guard.seen_before("act_2", now=1600.0) is True
    assert len(guard) == 2
    assert guard.seen_before("act_3", now=5000.0) is False
    assert len(guard) == 1  # memory holds only the ids of the last ttl_s


# --- signing side -------------------------------------------------------------------


def test_secrets_with_and_without_prefix_or_padding() -> None:
    raw = b"r" * 25  # base64 needs padding
    encoded = base64.b64encode(raw).decode()
    assert encoded.endswith("=")
    assert secret_key("whsec_" + encoded) == raw
    assert secret_key(encoded.rstrip("=")) == raw


@pytest.mark.parametrize(
    ("secret", "match"),
    [
        ("whsec_not*base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24 to 64"),
    ],
)
def test_bad_secrets_are_refused(secret: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        secret_key(secret)
    with pytest.raises(WebhookConfigError, match=match):
        sign("act_1", T0, BODY, [secret])


def test_sign_needs_a_secret_and_a_header_safe_id() -> None:
    with pytest.raises(WebhookConfigError):
        sign("act_1", T0, BODY, [])
    for bad in ("", "act 1", "act\n1", "act_é"):
        with pytest.raises(ValueError, match="webhook id"):
            sign(bad, T0, BODY, [SECRET])


def test_sign_uses_integer_seconds() -> None:
    assert sign("act_1", T0 + 0.9, BODY, [SECRET]) == sign("act_1", T0, BODY, [SECRET])  # type: ignore[arg-type]


def test_new_secrets_are_random_and_usable() -> None:
    a, b = new_secret(), new_secret(48)
    assert a != b and len(secret_key(b)) == 48
    verify(sign("act_1", T0, BODY, [a]), BODY, [a], now=T0)
    with pytest.raises(ValueError):
        new_secret(16)
