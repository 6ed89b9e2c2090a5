"""A rule's own test cases: partial events in a rule file, built into contract events.

Each case has a ``name``, ``expect: fire | no_fire`` and ``events``: partial events, in
order, whose last one the expectation is about. An event names its ``type`` and ``at``
(an offset from :data:`BASE_TIME`: ``"0m"``, ``"-3d"``, ``"+40s"``, ``"2h5m"``) and
overrides any contract field; :data:`DEFAULTS` fill in the rest, for the account
:data:`ACCOUNT`. ``geo`` may name a place (:data:`PLACES`) or be a mapping
``{lat, lon, country, city}``. ``repeat: N`` (with ``every``, default ``1m``) expands an
event into N, and ``{i}`` in its text fields becomes 0, 1, … (``payee_id: "shop-{i}"``).

Every problem — an unknown field, an unknown place, a bad offset, a value the event
contract refuses — is ``file:line: rule 'x' test 'y': ...``, found at load time. Running
the cases needs the pipeline (``monitor/ruletests.py``); building them does not.

>>> case = {"name": "six failures", "expect": "fire", "events": [
...     {"type": "login", "at": "-5m", "success": False, "repeat": 6, "every": "30s"},
...     {"type": "login", "at": "0m", "device_id": "evil", "geo": "lagos"}]}
>>> problems = []
>>> built = build_case(case, "r.yaml", 7, problems)
>>> problems, built.expect, len(built.events)
([], 'fire', 7)
>>> last = built.events[-1]
>>> last.account_id, last.device_id, last.geo.city, last.success, last.ts.isoformat()
('acct-test', 'evil', 'Lagos', True, '2026-03-02T02:00:00+00:00')
>>> built.events[0].failure_reason, built.events[1].ts.isoformat()
('bad_password', '2026-03-02T01:55:30+00:00')
>>> build_case({"name": "typo", "expect": "fire", "events": [
...     {"type": "login", "at": "0m", "sucess": False}]}, "r.yaml", 7, problems)
>>> problems
["r.yaml:7: test 'typo': login event: unknown field 'sucess' (did you mean 'success'?)"]
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from monitor.events import DecodeError, Event, Login, Payment, Security, Topup, decode
from monitor.ruleset.durations import DurationError, parse_duration, parse_offset

LINE = "__line__"  # keys the loader's YAML reader adds to every mapping
LINES = "__lines__"

BASE_TIME = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
ACCOUNT = "acct-test"
MAX_EVENTS = 1000  # per case, after ``repeat``

PLACES: dict[str, dict[str, Any]] = {
    "shanghai": {"lat": 31.2304, "lon": 121.4737, "country": "CN", "city": "Shanghai"},
    "beijing": {"lat": 39.9042, "lon": 116.4074, "country": "CN", "city": "Beijing"},
    "singapore": {"lat": 1.3521, "lon": 103.8198, "country": "SG", "city": "Singapore"},
    "lagos": {"lat": 6.5244, "lon": 3.3792, "country": "NG", "city": "Lagos"},
    "london": {"lat": 51.5074, "lon": -0.1278, "country": "GB", "city": "London"},
    "new_york": {"lat": 40.7128, "lon": -74.0060, "country": "US", "city": "New York"},
}

COMMON: dict[str, Any] = {
    "account_id": ACCOUNT,
    "device_id": "dev-home",
    "ip": "10.0.0.1",
    "geo": "shanghai",
    "channel": "app",
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "login": {"success": True, "method": "password"},
    "payment": {
        "amount": 50.0,
        "currency": "CNY",
        "kind": "purchase",
        "payee_id": "payee-1",
        "status": "succeeded",
    },
    "topup": {"amount": 100.0, "currency": "CNY", "source_id": "card-1", "status": "credited"},
    "security": {"success": True},  # ``action`` has no default: say which change it is
}
# failure_reason when an event fails and the case does not name one
FAILURE_REASONS = {
    "login": "bad_password",
    "payment": "insufficient_balance",
    "topup": "card_declined",
}
_CLASSES: dict[str, type[msgspec.Struct]] = {
    "login": Login,
    "payment": Payment,
    "topup": Topup,
    "security": Security,
}
_CASE_KEYS = ("name", "expect", "events")
_META = ("type", "at", "repeat", "every")  # event keys that are not contract fields
_NOT_SET = ("event_id", "ts")  # built by the runner: ``at`` gives the time


class RuleTest(msgspec.Struct, frozen=True):
    """One built test case of a rule: contract events, the expectation about the last."""

    name: str
    expect: Literal["fire", "no_fire"]
    events: tuple[Event, ...]
    line: int  # file line of the case


def fields_of(event_type: str) -> tuple[str, ...]:
    """The contract fields a test event of ``event_type`` may set."""
    cls = _CLASSES[event_type]
    return tuple(f.name for f in msgspec.structs.fields(cls) if f.name not in _NOT_SET)


def build_case(
    raw: Any, file: str, line: int, problems: list[str], prefix: str = ""
) -> RuleTest | None:
    """Build one case from its YAML mapping; problems are appended as ``file:line: ...``
    (``prefix`` goes before the message, e.g. ``"rule 'x' "``)."""
    if not isinstance(raw, dict):
        problems.append(f"{file}:{line}: {prefix}each test must be a mapping")
        return None
    line = raw.pop(LINE, line)
    lines: dict[str, int] = raw.pop(LINES, {})
    name = raw.get("name")
    label = f"{prefix}test '{name}'" if isinstance(name, str) and name else f"{prefix}test"
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        problems.append(f"{file}:{lines.get(key, line) if key else line}: {label}: {message}")

    for key in raw:
        if key not in _CASE_KEYS:
            problem(key, f"unknown field '{key}' (a test has {', '.join(_CASE_KEYS)})")
    if not isinstance(name, str) or not name.strip():
        problem("name", "needs a 'name'")
    expect = raw.get("expect")
    if expect not in ("fire", "no_fire"):
        problem("expect", f"expect must be fire or no_fire, not {expect!r}")
    events_raw = raw.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        problem("events", "needs 'events': a list of at least one event")
        return None
    events: list[Event] = []
    previous = None  # (offset, text) of the previous event
    for number, item in enumerate(events_raw, start=1):
        if not isinstance(item, dict):
            problem("events", f"event {number} must be a mapping")
            continue
        event_line = item.get(LINE, lines.get("events", line))
        built = _build_event(item, event_line, len(events), label, file, problems)
        if built is None:
            continue
        for offset, at_text, event in built:
            if previous is not None and offset < previous[0]:
                problems.append(
                    f"{file}:{event_line}: {label}: events must be in time order "
                    f"({at_text!r} comes before the previous event's {previous[1]!r})"
                )
                break
            previous = (offset, at_text)
            events.append(event)
    if len(events) > MAX_EVENTS:
        problem("events", f"{len(events)} events; a test may have at most {MAX_EVENTS}")
    if len(problems) > before or not isinstance(name, str):
        return None
    outcome: Literal["fire", "no_fire"] = "fire" if expect == "fire" else "no_fire"
    return RuleTest(name=name, expect=outcome, events=tuple(events), line=line)


def _build_event(
    item: dict[str, Any], line: int, first_index: int, label: str, file: str, problems: list[str]
) -> list[tuple[float, str, Event]] | None:
    line = item.pop(LINE, line)
    lines: dict[str, int] = item.pop(LINES, {})
    event_type = item.get("type")
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        where = lines.get(key, line) if key else line
        problems.append(f"{file}:{where}: {label}: {message}")

    if event_type not in _CLASSES:
        problem("type", f"event type must be one of {', '.join(_CLASSES)}, not {event_type!r}")
        return None
    allowed = fields_of(event_type)
    for key in item:
        if key in _NOT_SET:
            problem(key, f"{event_type} event: '{key}' is set by the runner (use 'at' for time)")
        elif key not in allowed and key not in _META:
            close = difflib.get_close_matches(str(key), [*allowed, *_META], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problem(key, f"{event_type} event: unknown field '{key}'{hint}")
    if "at" not in item:
        problem(None, f"{event_type} event: needs 'at' (an offset such as '0m' or '-3d')")
    offset = every = 0.0
    try:
        offset = parse_offset(item.get("at", 0))
    except DurationError as exc:
        problem("at", f"at: {exc}")
    repeat = item.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_EVENTS:
        problem("repeat", f"repeat must be a whole number from 1 to {MAX_EVENTS}, not {repeat!r}")
        repeat = 1
    if "every" in item:
        try:
            every = parse_duration(item["every"], seconds_ok=False)
        except DurationError as exc:
            problem("every", f"every: {exc}")
        if "repeat" not in item:
            problem("every", "'every' only goes with 'repeat'")
    else:
        every = 60.0
    geo = item.get("geo", COMMON["geo"])
    if isinstance(geo, str):
        if geo not in PLACES:
            known = ", ".join(sorted(PLACES))
            problem(
                "geo", f"unknown place '{geo}' (places: {known}; or {{lat, lon, country, city}})"
            )
        geo = PLACES.get(geo)
    elif isinstance(geo, dict):
        geo = {k: v for k, v in geo.items() if k not in (LINE, LINES)}
    if len(problems) > before:
        return None

    fields = {k: v for k, v in item.items() if k not in _META}
    body: dict[str, Any] = {**COMMON, **DEFAULTS[event_type], **fields, "geo": geo}
    failed = body.get("success") is False or body.get("status") == "failed"
    if failed and "failure_reason" not in fields and event_type in FAILURE_REASONS:
        body["failure_reason"] = FAILURE_REASONS[event_type]
    out = []
    for i in range(repeat):
        at = offset + i * every
        ts = BASE_TIME + timedelta(seconds=at)
        values = {k: v.replace("{i}", str(i)) if isinstance(v, str) else v for k, v in body.items()}
        values["type"] = event_type
        values["event_id"] = f"case-event-{first_index + i}"
        values["ts"] = ts.isoformat().replace("+00:00", "Z")
        try:
            raw = msgspec.json.encode({k: v for k, v in values.items() if v is not None})
        except (TypeError, msgspec.EncodeError) as exc:
            problem(None, f"{event_type} event: a value is not plain data ({exc})")
            return None
        event = decode(raw)
        if isinstance(event, DecodeError):
            problem(_key_of(event.detail), f"{event_type} event: {event.detail}")
            return None
        text = str(item.get("at"))
        if i:
            text += f" + {i} x {item.get('every', '1m')}"
        out.append((at, text, event))
    return out


def _key_of(detail: str) -> str | None:
    """``Expected `float` >= 0 - at `$.amount``` -> ``amount``."""
    if "`$." in detail:
        return detail.split("`$.", 1)[1].split("`", 1)[0].split(".", 1)[0].split("[", 1)[0]
    if "field `" in detail:
        return detail.split("field `", 1)[1].split("`", 1)[0]
    return None
