"""One contract for every stateful Vigil component and every rule operator (after river's
generic estimator checks, ``river/checks/``): a snapshot taken mid-stream continues
exactly like the original, memory does not grow with the length of the stream, feeding
does not change what is fed, and the same stream gives the same outputs.

Each component is described by an :class:`Adapter` (how to make it, feed it one event and
snapshot it) and runs on a realistic stream from the simulator, attacks included. A new
detector joins the contract by adding one adapter to ``ADAPTERS``.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import pickle
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from monitor.decision import Decision
from monitor.detectors import AnomalyDetector, VerdictLearner
from monitor.detectors.anomaly import vector
from monitor.detectors.population import PopulationMonitor
from monitor.events import Event, Geo, Login, Payment, Security, Topup
from monitor.features import FEATURES, AccountState, extract
from monitor.features.state import FIELDS, MAX_MARKS
from monitor.pipeline import PartitionPipeline
from monitor.ruleset import ExpressionError, RulePack, compile_expression, load_rules
from monitor.ruleset.functions import FUNCTIONS, NUMBER
from monitor.simulate import SimConfig, generate
from monitor.testing import ManualClock

RULES_DIR = Path(__file__).parents[2] / "rules"


@cache
def rules() -> RulePack:
    return load_rules(RULES_DIR)


# --- the stream ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One event with what the detectors are fed alongside it: its features (from a
    reference extraction on fresh per-account states), the model's input vector (what
    verdicts learn from) and the simulator's ground truth."""

    event: Event
    features: dict[str, Any]
    inputs: dict[str, float]
    fraud: bool


def prepare(cfg: SimConfig) -> tuple[Item, ...]:
    states: dict[str, AccountState] = {}
    items = []
    for event, label in generate(cfg):
        state = states.get(event.account_id)
        if state is None:
            state = states[event.account_id] = AccountState()
        features = extract(state, event, event.epoch)
        inputs: dict[str, float] = dict(vector(features))  # type: ignore[arg-type]
        items.append(Item(event, features, inputs, label is not None))
    return tuple(items)


# ~6,000 events: 300 accounts over two days, a tenth of them attacked
STREAM = SimConfig(accounts=300, days=2, seed=11, attack_share=0.1)


@cache
def stream() -> tuple[Item, ...]:
    return prepare(STREAM)


N = 1_000  # the memory check compares the state after N and after 5N events


@cache
def long_stream() -> tuple[Item, ...]:
    """A fixed set of accounts over two weeks: those of the first N events of 60 simulated
    accounts (the quietest may not show up that early)."""
    items = prepare(SimConfig(accounts=60, days=14, seed=5, attack_share=0.1))
    fixed = {i.event.account_id for i in items[:N]}
    return tuple(i for i in items if i.event.account_id in fixed)


# --- adapters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Adapter:
    name: str
    make: Callable[[], Any]
    feed: Callable[[Any, Item], Any]
    # the stream really exercised the component (else every check below passes vacuously)
    exercised: Callable[[list[Any]], bool]
    # state size after 5N events / after N events, same accounts; see ADAPTERS for why
    max_growth: float
    dumps: Callable[[Any], bytes] = pickle.dumps
    loads: Callable[[bytes], Any] = pickle.loads

    def __str__(self) -> str:
        return self.name


def _extract(states: dict[str, AccountState], item: Item) -> dict[str, Any]:
    event = item.event
    state = states.get(event.account_id)
    if state is None:
        state = states[event.account_id] = AccountState()
    return extract(state, event, event.epoch)


def _verdicts(learner: VerdictLearner, item: Item) -> float | None:
    event_type = item.event.type
    learner.learn(event_type, item.inputs, item.fraud)
    return learner.probability(event_type, item.inputs)


def _pipeline() -> PartitionPipeline:
    return PartitionPipeline(partition=0, rules=rules(), clock=ManualClock())


def _process(pipe: PartitionPipeline, item: Item) -> tuple[Decision, list[Decision]]:
    pipe.clock.now = item.event.epoch  # type: ignore[attr-defined]  # the ManualClock
    decision = pipe.process(item.event)
    return decision, pipe.drain_ops()  # as the stream runner does


def _pipeline_dumps(pipe: PartitionPipeline) -> bytes:
    """The partition's learned state without the rule pack, which is shared, immutable
    configuration (and not picklable yet: see test_pipeline_pickles_with_its_rule_pack)."""
    pack = pipe.rules
    pipe.rules = None  # type: ignore[assignment]
    try:
        return pickle.dumps(pipe)
    finally:
        pipe.rules = pack


def _pipeline_loads(blob: bytes) -> PartitionPipeline:
    pipe = pickle.loads(blob)
    pipe.rules = rules()
    return pipe


def _features_exercised(outputs: list[dict[str, Any]]) -> bool:
    return (
        any(f["new_device"] for f in outputs)
        and max(f.get("payments_24h", 0) for f in outputs) > 1
        and max(f["failed_logins_10m"] for f in outputs) >= 3
    )


def _anomaly_exercised(outputs: list[Any]) -> bool:
    return any(r.flagged for r in outputs) and len({r.score for r in outputs}) > 50


def _verdicts_exercised(outputs: list[float | None]) -> bool:
    return len({p for p in outputs if p is not None}) > 50


def _population_exercised(outputs: list[list[Decision]]) -> bool:
    return any(outputs)


def _pipeline_exercised(outputs: list[tuple[Decision, list[Decision]]]) -> bool:
    decisions = [d for d, _ in outputs]
    return (
        any(d.rule_ids for d in decisions)
        and any(d.anomaly_score is not None and d.anomaly_score > 0.5 for d in decisions)
        and any(ops for _, ops in outputs)
    )


ADAPTERS = [
    # Per-account states: windows are cut at their time horizon (at most a day) and at
    # MAX_MARKS entries, novelty sets are LRUs of LIMITS entries, amount statistics are
    # fixed-size (P² median). Growth is the LRUs filling up: well under 1.5x.
    Adapter(
        "features",
        dict,
        _extract,
        _features_exercised,
        max_growth=1.5,
    ),
    # Half-Space Trees keep a fixed window; the threshold is a P² quantile: no growth.
    Adapter(
        "anomaly",
        AnomalyDetector,
        lambda det, item: det.score(item.features),
        _anomaly_exercised,
        max_growth=1.05,
    ),
    # A scaler and a logistic regression per event type over a fixed input vector.
    Adapter(
        "verdicts",
        lambda: VerdictLearner(min_verdicts=20),
        _verdicts,
        _verdicts_exercised,
        max_growth=1.05,
    ),
    # Fixed baseline windows per rate; new keys (payment failure reasons, channels, IPs,
    # subnets, cooldowns) each add a little until their caps: growth stays under 1.5x.
    Adapter(
        "population",
        lambda: PopulationMonitor(stuffing_accounts=3),
        lambda mon, item: mon.observe(item.event, item.features),
        _population_exercised,
        max_growth=1.5,
    ),
    # All of the above for one partition (accounts expire after a TTL of event time).
    Adapter(
        "pipeline",
        _pipeline,
        _process,
        _pipeline_exercised,
        max_growth=1.25,
        dumps=_pipeline_dumps,
        loads=_pipeline_loads,
    ),
]

parametrize_adapters = pytest.mark.parametrize("adapter", ADAPTERS, ids=str)


def run(adapter: Adapter, component: Any, items: tuple[Item, ...]) -> list[Any]:
    return [adapter.feed(component, item) for item in items]


@cache
def reference(name: str) -> list[Any]:
    """The outputs of a fresh component over the whole stream (computed once)."""
    adapter = next(a for a in ADAPTERS if a.name == name)
    return run(adapter, adapter.make(), stream())


def assert_same(got: list[Any], expected: list[Any]) -> None:
    """Exactly equal, floats bit for bit (``repr`` of a float round-trips)."""
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        if a != b or repr(a) != repr(b):
            pytest.fail(f"output {i} differs:\n  got      {a!r}\n  expected {b!r}")


# --- 1. snapshots ------------------------------------------------------------------------


@parametrize_adapters
def test_pickled_mid_stream_continues_identically(adapter):
    items = stream()
    half = len(items) // 2
    original = adapter.make()
    run(adapter, original, items[:half])
    restored = adapter.loads(adapter.dumps(original))
    assert restored is not original
    rest = items[half:]
    from_restored = run(adapter, restored, rest)
    from_original = run(adapter, original, rest)
    assert adapter.exercised(from_original)
    assert_same(from_restored, from_original)
    assert_same(from_original, reference(adapter.name)[half:])


def test_pipeline_pickles_with_its_rule_pack():
    adapter = next(a for a in ADAPTERS if a.name == "pipeline")
    items = stream()[:500]
    pipe = adapter.make()
    run(adapter, pipe, items)
    restored = pickle.loads(pickle.dumps(pipe))
    assert restored.rules.version == pipe.rules.version
    rest = stream()[500:1500]
    assert_same(run(adapter, restored, rest), run(adapter, pipe, rest))


# --- 2. bounded memory -------------------------------------------------------------------


@parametrize_adapters
def test_memory_does_not_grow_with_the_stream(adapter):
    items = long_stream()
    assert len(items) >= 5 * N
    first, all_ = items[:N], items[: 5 * N]
    accounts = {i.event.account_id for i in first}
    assert accounts == {i.event.account_id for i in all_}  # the same, fixed set of accounts
    assert all_[-1].event.epoch - all_[0].event.epoch > 4 * (
        first[-1].event.epoch - first[0].event.epoch
    )  # ... over a longer time
    component = adapter.make()
    run(adapter, component, first)
    small = len(adapter.dumps(component))
    run(adapter, component, all_[N:])
    large = len(adapter.dumps(component))
    print(
        f"{adapter.name}: {small:,} B after {N:,} events, {large:,} B after {5 * N:,}"
        f" ({large / small:.3f}x; {small / len(accounts):,.0f} -> "
        f"{large / len(accounts):,.0f} B per account)"
    )
    assert large <= small * adapter.max_growth


# One account, 20,000 events: a failed login, a login with another method, a failed small
# payment, a transfer, a withdrawal, a credited and a failed top-up, a reset request and a
# device binding, in turn; every event from a new device, IP, /24, city, payee and source,
# in one of ten countries. Every window is then at its busiest.
WORST_EVENTS = 20_000
COUNTRIES = ("CN", "SG", "NG", "US", "DE", "FR", "BR", "IN", "JP", "GB")
T0 = datetime(2026, 1, 5, tzinfo=UTC)
# The marks hold at most MAX_MARKS (512) entries of 13 bytes (time, kind, amount), the
# novelty keys 84 x 4 bytes, the statistics a few hundred bytes: 16 KiB covers it.
MAX_STATE_BYTES = 16 * 1024
WINDOWS = ("times", "marks", "amounts")


def worst_case(step_s: float) -> Iterator[Event]:
    for i in range(WORST_EVENTS):
        common: dict[str, Any] = {
            "event_id": f"w{i}",
            "account_id": "acct-worst",
            "ts": T0 + timedelta(seconds=i * step_s),
            "device_id": f"dev-{i}",
            "ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            "geo": Geo(
                lat=i % 170 - 85.0, lon=i % 350 - 175.0, country=COUNTRIES[i % 10], city=f"c{i}"
            ),
            "channel": "app",
        }
        money = {"currency": "CNY", "payee_id": f"payee-{i}"}
        match i % 9:
            case 0:
                yield Login(**common, success=False, method="password", failure_reason="bad")
            case 1:
                yield Login(**common, success=True, method=("otp", "sms", "biometric")[i % 3])
            case 2:
                yield Payment(**common, **money, amount=1.5, kind="purchase", status="failed")
            case 3:
                yield Payment(
                    **common, **money, amount=10.0 + i, kind="transfer", status="succeeded"
                )
            case 4:
                yield Payment(**common, **money, amount=50.0, kind="withdrawal", status="succeeded")
            case 5:
                yield Topup(
                    **common, amount=80.0, currency="CNY", source_id=f"s{i}", status="credited"
                )
            case 6:
                yield Topup(
                    **common, amount=80.0, currency="CNY", source_id=f"s{i}", status="failed"
                )
            case 7:
                yield Security(**common, action="password_reset_requested", success=True)
            case _:
                yield Security(**common, action="device_bound", success=True)


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """``sys.getsizeof`` summed over everything ``obj`` holds (slots, __dict__, items)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, type):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, str | bytes | int | float | bool | array) or obj is None:
        return size
    if isinstance(obj, Mapping):
        return size + sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple | set | frozenset | deque):
        return size + sum(deep_size(x, seen) for x in obj)
    for cls in type(obj).__mro__:
        # a class compiled by mypyc (setup.py) lists its attributes in __mypyc_attrs__
        for slot in getattr(cls, "__slots__", ()) or getattr(cls, "__mypyc_attrs__", ()):
            if hasattr(obj, slot):
                size += deep_size(getattr(obj, slot), seen)
    if hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    return size


STEPS = {"over-7-days": 30.0, "flood-in-6-hours": 1.0}


@cache
def worst_state(step_s: float) -> AccountState:
    state = AccountState()
    for event in worst_case(step_s):
        extract(state, event, event.epoch)
    assert state.events == WORST_EVENTS
    return state


@pytest.mark.parametrize(
    "step_s",
    [
        pytest.param(STEPS["over-7-days"], id="over-7-days"),
        pytest.param(STEPS["flood-in-6-hours"], id="flood-in-6-hours"),
    ],
)
def test_one_account_state_stays_under_its_byte_bound(step_s):
    state = worst_state(step_s)
    pickled, deep = len(pickle.dumps(state)), deep_size(state)
    print(
        f"one account, {WORST_EVENTS:,} events every {step_s:g} s: "
        f"{pickled:,} B pickled, {deep:,} B deep size"
    )
    assert pickled <= MAX_STATE_BYTES
    assert deep <= 2 * MAX_STATE_BYTES


@pytest.mark.parametrize("step_s", list(STEPS.values()), ids=list(STEPS))
def test_every_window_is_capped(step_s):
    lengths = {name: len(getattr(worst_state(step_s), name) or ()) for name in WINDOWS}
    assert set(WINDOWS) <= set(FIELDS)
    assert max(lengths.values()) <= MAX_MARKS, lengths


# --- 3. feeding does not mutate the input ------------------------------------------------


@parametrize_adapters
def test_feeding_does_not_mutate_its_input(adapter):
    component = adapter.make()
    # a stream of its own: a component that mutated the shared one in an earlier test
    # (the same way every time) would find nothing left to change here
    for item in prepare(STREAM)[:2_000]:
        before = copy.deepcopy((item.event, item.features, item.inputs))
        adapter.feed(component, item)
        assert (item.event, item.features, item.inputs) == before, item.event.event_id


# --- 4. determinism ----------------------------------------------------------------------


@parametrize_adapters
def test_same_stream_same_outputs(adapter):
    component = adapter.make()
    outputs, at_the_time = [], []
    for item in stream():
        out = adapter.feed(component, item)
        outputs.append(out)
        at_the_time.append(repr(out))
    assert adapter.exercised(outputs)
    assert_same(outputs, reference(adapter.name))
    # outputs are values: later events do not change what an earlier one returned
    assert [repr(out) for out in outputs] == at_the_time


# --- rule operators ----------------------------------------------------------------------

SAMPLES: dict[str, tuple[Any, ...]] = {
    NUMBER: (0, 3, -2.5, 1e9, True),
    "str": ("", "CN"),
    "list": (["CN", "SG"], [], ("CN",), {"SG"}),
    "any": ("CN", 7, None),
}
RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float),  # a number: int, float or bool
    "int": (int,),
    "bool": (bool,),
    "str": (str,),
}
# feature names that give an argument of each type in a payment rule
RULE_ARGS = {NUMBER: "amount", "str": "country", "list": "['CN', 'SG']", "any": "country"}
parametrize_functions = pytest.mark.parametrize("name", sorted(FUNCTIONS))


def calls(name: str) -> Iterator[tuple[Any, ...]]:
    spec = FUNCTIONS[name]
    kinds = list(spec.args)
    yield from itertools.product(*(SAMPLES[k] for k in kinds))
    if spec.variadic:
        yield from itertools.product(*(SAMPLES[k] for k in [*kinds, kinds[-1]]))


@parametrize_functions
def test_operator_is_pure_and_returns_its_declared_type(name):
    spec = FUNCTIONS[name]
    n = 0
    for args in calls(name):
        before = copy.deepcopy(args)
        first = spec.fn(*args)
        again = spec.fn(*args)
        assert args == before, f"{name}{before!r} changed its arguments to {args!r}"
        assert repr(first) == repr(again), f"{name}{args!r}: {first!r} then {again!r}"
        assert isinstance(first, RESULT_TYPES[spec.result]), f"{name}{args!r} -> {first!r}"
        if spec.result == "bool":
            assert type(first) is bool
        n += 1
    assert n >= len(spec.args)


@parametrize_functions
def test_operator_signature_matches_the_function(name):
    spec = FUNCTIONS[name]
    assert spec.args and all(k in SAMPLES for k in spec.args), spec.args
    assert spec.result in RESULT_TYPES
    assert spec.signature.startswith(f"{spec.fn.__name__}(")
    try:
        params = list(inspect.signature(spec.fn).parameters.values())
    except ValueError:  # builtins without a signature (min, max): call them instead
        args = [SAMPLES[k][1] for k in spec.args]
        spec.fn(*args)
        if spec.variadic:
            spec.fn(*args, args[-1], args[-1])
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    star = any(p.kind is p.VAR_POSITIONAL for p in params)
    if spec.variadic:
        assert star, f"{spec.signature} is variadic; the function takes {len(positional)} args"
    else:
        assert len(required) <= len(spec.args) <= len(positional) or star, spec.signature


@parametrize_functions
def test_operator_is_callable_from_a_rule_with_its_declared_arity(name):
    spec = FUNCTIONS[name]
    # a list of networks (ip_in) takes CIDRs, a plain list any constants
    samples = {**RULE_ARGS, "list": "['10.0.0.0/8']"} if spec.list_kind == "networks" else RULE_ARGS
    args = [samples[k] for k in spec.args]
    call = f"{name}({', '.join(args)})"
    features = next(i.features for i in stream() if i.event.type == "payment")
    expected = spec.fn(*(eval(a, {}, dict(features)) for a in args))  # the plain call
    source = call if spec.result == "bool" else f"{call} == {expected!r}"
    types = {"payment"}
    expr = compile_expression(source, event_types=types)
    before = copy.deepcopy(features)
    assert expr.evaluate(features) is (expected if spec.result == "bool" else True)
    assert features == before
    with pytest.raises(ExpressionError, match="takes"):
        compile_expression(f"{name}({', '.join(args[:-1])}) == 1", event_types=types)
    if not spec.variadic:
        with pytest.raises(ExpressionError, match="takes"):
            compile_expression(f"{name}({', '.join([*args, args[-1]])}) == 1", event_types=types)


def test_no_operator_name_shadows_a_feature():
    assert not set(FUNCTIONS) & set(FEATURES)


def test_rule_pack_evaluation_is_pure():
    pack = rules()
    fired = 0
    for item in stream()[:3_000]:
        before = copy.deepcopy(item.features)
        first = [(h.rule.id, h.reason) for h in pack.evaluate(item.features)]
        again = [(h.rule.id, h.reason) for h in pack.evaluate(item.features)]
        assert item.features == before, item.event.event_id
        assert first == again
        fired += bool(first)
    assert fired > 0
