"""The failure tests' workload: a simulated wallet whose event ids carry each account's
sequence number, a known set of attacks that must produce commands, optional poison
messages, and a rule pack with a *sequence probe* that makes every decision visible.

The probe is a shadow rule that fires on every valid event and records
``account_events`` (the events the account had before this one). Shadow hits are stored
once per ``event_id``, so after a run the store says, for every event, that it was decided
and with which state: ``account_events`` equal to the event's position in its account's
stream means nothing before it was lost or folded in twice.

>>> work = build_workload(accounts=20, days=0.2, seed=1, attacks=2, poison_share=0.2)
>>> sorted(set(work.poison.values()))
['invalid_json', 'invalid_utf8', 'schema', 'too_large']
>>> all(split_id(e)[1] == s for e, s in work.seq.items())
True
>>> sorted(work.attacks.values())[:1]
['atk-000']
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.events import encode
from monitor.simulate import SimConfig, generate
from monitor.testing import login

PROBE_RULE = "zz_sequence_probe"
PROBE_IP = "203.0.113.250"  # TEST-NET-3: the probe's must-not-fire case
_PROBE_YAML = f"""# The failure tests' sequence probe (tests/e2e/failures/workload.py): a shadow
# rule on every event that records how many events its account had before it.
rules:
  - id: {PROBE_RULE}
    description: Failure tests only - records every decision and the state it saw
    applies_to: [login, payment, topup, security]
    when: account_events >= 0 and ip != '{PROBE_IP}'
    severity: low
    score: 0.0
    reason: "{{account_events}} earlier events"
    mode: shadow
    tests:
      - name: every event
        expect: fire
        events:
          - {{type: login, at: 0m}}
      - name: the reserved address
        expect: no_fire
        events:
          - {{type: login, at: 0m, ip: {PROBE_IP}}}
"""
_ID = re.compile(r"^(?P<account>.+)-s(?P<seq>\d{5})$")
_POISON_KINDS = ("invalid_json", "invalid_utf8", "schema", "too_large")


def split_id(event_id: str) -> tuple[str, int]:
    """``("acct-000123", 42)`` from ``"acct-000123-s00042"``.

    >>> split_id("atk-003-s00005")
    ('atk-003', 5)
    """
    m = _ID.match(event_id)
    if m is None:
        raise ValueError(f"not a sequenced event id: {event_id!r}")
    return m["account"], int(m["seq"])


def probe_rules(source: Path, dest: Path) -> Path:
    """A copy of the rule directory ``source`` with the sequence probe added."""
    shutil.copytree(source, dest)
    (dest / f"{PROBE_RULE}.yaml").write_text(_PROBE_YAML, encoding="utf-8")
    return dest


@dataclass(frozen=True)
class Workload:
    messages: list[tuple[bytes, bytes]]  # (key, value) in produce order
    seq: dict[str, int]  # valid event id -> its number in its account's stream
    poison: dict[bytes, str]  # poison value -> the dead-letter reason it must get
    attacks: dict[str, str]  # event id that must raise a command -> its account

    @property
    def events(self) -> int:
        return len(self.seq)

    def twice(self) -> Workload:
        """The same messages delivered a second time, after the first delivery."""
        return replace_messages(self, self.messages + self.messages)


def replace_messages(work: Workload, messages: list[tuple[bytes, bytes]]) -> Workload:
    return Workload(messages, work.seq, work.poison, work.attacks)


def _poison(i: int, kind: str) -> bytes:
    if kind == "invalid_json":
        return b'{"event_id": "poison-%d", "type": "login", ' % i
    if kind == "invalid_utf8":
        return b'{"event_id":"poison-%d","type":"login","account_id":"\xff\xfe"}' % i
    if kind == "schema":  # no ts
        return json.dumps({"event_id": f"poison-{i}", "type": "login", "account_id": "x"}).encode()
    pad = "x" * 70_000  # over the 64 KiB limit
    return json.dumps({"event_id": f"poison-{i}", "type": "login", "pad": pad}).encode()


def build_workload(
    accounts: int, days: float, seed: int, *, attacks: int = 10, poison_share: float = 0.0
) -> Workload:
    """The simulator's stream for ``accounts`` over ``days``, ``attacks`` brute-force
    attacks on accounts of their own (six failed logins a minute apart: the sixth must
    raise ``brute_force`` and a ``require_step_up`` command), and ``poison_share`` of
    the messages undecodable, spread at random."""
    rng = random.Random(seed)
    cfg = SimConfig(accounts=accounts, days=days, seed=seed, attack_share=0.05)
    timed: list[tuple[float, str, bytes]] = [
        (event.epoch, event.account_id, encode(event)) for event, _ in generate(cfg)
    ]
    must_fire: dict[int, str] = {}  # index in ``timed`` of each attack's sixth failure
    for a in range(attacks):
        account = f"atk-{a:03d}"
        t0 = cfg.start_epoch + rng.uniform(0.05, 0.95) * days * 86400.0
        ip = f"10.77.{a // 250}.{a % 250 + 1}"
        for k in range(6):
            ts = datetime.fromtimestamp(t0 + 60.0 * k, UTC).isoformat().replace("+00:00", "Z")
            timed.append((t0 + 60.0 * k, account, login(account, ts, success=False, ip=ip)))
            if k == 5:
                must_fire[len(timed) - 1] = account
    order = sorted(range(len(timed)), key=lambda i: timed[i][0])  # stable: ties keep order
    counts: dict[str, int] = {}
    seq: dict[str, int] = {}
    attack_ids: dict[str, str] = {}
    messages: list[tuple[bytes, bytes]] = []
    for i in order:
        _, account, raw = timed[i]
        n = counts.get(account, 0)
        counts[account] = n + 1
        event_id = f"{account}-s{n:05d}"
        body = json.loads(raw)
        body["event_id"] = event_id
        messages.append((account.encode(), json.dumps(body, separators=(",", ":")).encode()))
        seq[event_id] = n
        if i in must_fire:
            attack_ids[event_id] = account
    poison: dict[bytes, str] = {}
    n_poison = round(len(messages) * poison_share / (1.0 - poison_share))
    for i in range(n_poison):
        value = _poison(i, _POISON_KINDS[i % len(_POISON_KINDS)])
        poison[value] = _POISON_KINDS[i % len(_POISON_KINDS)]
        messages.insert(rng.randrange(len(messages) + 1), (f"poison-{i}".encode(), value))
    return Workload(messages, seq, poison, attack_ids)
