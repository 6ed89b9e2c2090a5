"""api.masking: personal data found by key and in free text, everything else untouched."""

from __future__ import annotations

import copy

import pytest

from api.masking import mask, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("from 203.0.113.7.", "from 203.0.113.x."),
        ("net 203.0.113.0/24", "net 203.0.113.x/24"),
        ("v6 2001:db8::1 and fe80::1ff:fe23:4567:890a", "v6 2001:db8:0::x and fe80:0:0::x"),
        ("mail A.B+tag@mail.example.co.uk", "mail A***@mail.example.co.uk"),
        ("call +86 138 1234 5678 now", "call +86******5678 now"),
        ("call 13812345678", "call ******5678"),
        ("card card-1a2b3c4d5e, bank_9f8e7d6c", "card card-****4d5e, bank_****7d6c"),
    ],
)
def test_free_text_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T12:10:00+00:00",
        "12:10:00",
        "al_3f13812345678abc",  # an 11-digit run inside an id
        "card_testing",  # a rule id, not a card token
        "bank_freeze_24h",
        "transfer of 9,000.00 CNY 2 min after a security change",
        "ops:ip:acct:1767225600",
        "version 1.2.3",
        "999.1.1.1",  # not an address
        "sha256:deadbeef",
        "",
    ],
)
def test_what_is_not_personal_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_keys_decide_the_kind_and_numbers_stay() -> None:
    value = {
        "client_ip": "198.51.100.9",
        "contact_email": "x@example.org",
        "payee_phone": "13912345678",
        "payee_id": "merch-utility-power",
        "ip": "",  # absent: stays empty
        "ip_failed_accounts_10m": 5,
        "new_ip": False,
        "ips": ["198.51.100.9", "2001:db8:85a3::1"],
        "ip_bad": "not an address",
    }
    assert mask(value) == {
        "client_ip": "198.51.100.x",
        "contact_email": "x***@example.org",
        "payee_phone": "******5678",
        "payee_id": "merch-****ower",
        "ip": "",
        "ip_failed_accounts_10m": 5,
        "new_ip": False,
        "ips": ["198.51.100.x", "2001:db8:85a3::x"],
        "ip_bad": "not an address",
    }


def test_nested_structures_and_keys_are_masked_without_touching_the_input() -> None:
    value = {"data": [{"reasons": [{"values": {"203.0.113.5": 3, "email": "a@b.io"}}]}]}
    before = copy.deepcopy(value)
    assert mask(value) == {
        "data": [{"reasons": [{"values": {"203.0.113.x": 3, "email": "a***@b.io"}}]}]
    }
    assert value == before


def test_short_values_are_hidden_whole() -> None:
    assert mask({"source_id": "card-1", "phone": "12345", "email": "nobody"}) == {
        "source_id": "****",
        "phone": "******",
        "email": "******",
    }
