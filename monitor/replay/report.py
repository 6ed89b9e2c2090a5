"""The replay's report: per rule and per pack, and the comparison of two packs.

Definitions are in the package docstring (:mod:`monitor.replay`). Everything here is a
pure function of the tallies; ids are sorted so the report is deterministic.

>>> ratio(3, 4), ratio(0, 0), ratio(1, 3, labelled=False)
(0.75, None, None)
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from typing import Any

import msgspec

from monitor.decision import SEVERITIES
from monitor.ruleset import Rule

from .run import SAMPLE, PackTally, Replayed

__all__ = [
    "AccountChange",
    "Comparison",
    "PackResult",
    "ReplayReport",
    "RuleDiff",
    "RuleStats",
    "RunInfo",
    "build_report",
    "ratio",
]

PACK_LABELS = ("A", "B")


class RuleStats(msgspec.Struct, kw_only=True):
    rule: str
    mode: str  # active | shadow (shadow hits are counted as if active, never acted on)
    severity: str
    where: str  # file:line of the rule
    hits: int  # events the rule fired on
    accounts: int  # distinct accounts it fired on
    first_hit: str | None  # event time, ISO 8601 UTC, to the second
    last_hit: str | None
    true_hits: int | None  # hits on labelled events; None without labels
    precision: float | None
    recall: float | None  # over the labelled events of the stream
    campaigns: dict[str, int]  # scenario -> campaigns touched (with a true hit)
    errors: int  # evaluations that failed on arithmetic (the rule did not fire)


class PackResult(msgspec.Struct, kw_only=True):
    label: str  # "A" (--rules) or "B" (--compare)
    directory: str
    version: str
    rules: list[RuleStats]  # every rule not disabled, in pack order
    disabled: list[str]  # rule ids, not evaluated
    alerts: int  # decisions with severity above "none" (active rules and the model)
    alerts_by_severity: dict[str, int]
    alerted_accounts: int
    true_alerts: int | None
    precision: float | None
    recall: float | None
    shadow_only_events: int  # shadow hits and no alert
    late_events: int
    duplicate_events: int = 0  # copies of events already replayed (same event id)
    ops_alerts: dict[str, int]  # population-level alerts by rule id


class RuleDiff(msgspec.Struct, kw_only=True):
    rule: str
    presence: str  # "both" | "A only" | "B only"
    mode_a: str | None  # active | shadow | disabled; None when absent
    mode_b: str | None
    changed: bool  # in both packs, defined differently (its own test cases aside)
    hits_a: int
    hits_b: int
    delta: int  # hits_b - hits_a
    precision_a: float | None
    precision_b: float | None


class AccountChange(msgspec.Struct, kw_only=True):
    count: int
    sample: list[str]  # up to 10 account ids, sorted


class Comparison(msgspec.Struct, kw_only=True):
    a: str  # pack A's directory
    b: str
    rules: list[RuleDiff]
    alerts_a: int
    alerts_b: int
    alerts_delta: int
    alerted_accounts_a: int
    alerted_accounts_b: int
    newly_alerted_accounts: AccountChange  # alerted under B, not under A
    no_longer_alerted_accounts: AccountChange  # alerted under A, not under B
    severity_changed_events: int
    severity_transitions: dict[str, int]  # "none→high" -> events, most first
    transition_samples: dict[str, list[str]]  # transition -> up to 10 event ids

    @property
    def unchanged(self) -> bool:
        return (
            not self.severity_changed_events
            and not self.newly_alerted_accounts.count
            and not self.no_longer_alerted_accounts.count
            and all(d.delta == 0 and d.presence == "both" for d in self.rules)
        )


class RunInfo(msgspec.Struct, kw_only=True):
    source: str
    events: int
    accounts: int
    labelled: bool  # labels were given
    labelled_events: int
    campaigns: dict[str, int]  # scenario -> campaigns in the labels
    bad_lines: int
    bad_line_reasons: dict[str, int]
    bad_line_examples: list[str]
    bad_label_lines: int
    unmatched_labels: int
    partitions: int
    first_event: str | None
    last_event: str | None
    days: float
    elapsed_s: float
    events_per_s: float | None  # events per second, all packs together
    actions_taken: bool = False  # a replay has no responders: never


class ReplayReport(msgspec.Struct, kw_only=True):
    run: RunInfo
    packs: list[PackResult]
    compare: Comparison | None = None


def ratio(num: int, den: int, *, labelled: bool = True) -> float | None:
    return num / den if labelled and den else None


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(r: Replayed) -> ReplayReport:
    packs = [_pack(label, t, r) for label, t in zip(PACK_LABELS, r.packs, strict=False)]
    compare = None
    if r.compare is not None:
        a, b = r.packs
        compare = _comparison(a, b, packs[0], packs[1], r)
    stats = r.stats
    return ReplayReport(
        run=RunInfo(
            source=r.source,
            events=r.events,
            accounts=r.accounts,
            labelled=r.labelled,
            labelled_events=r.labelled_events,
            campaigns={s: len(ids) for s, ids in sorted(r.campaigns.items())},
            bad_lines=stats.bad_lines,
            bad_line_reasons=dict(stats.bad_reasons),
            bad_line_examples=list(stats.bad_examples),
            bad_label_lines=stats.bad_label_lines,
            unmatched_labels=stats.unmatched_labels,
            partitions=r.partitions,
            first_event=_iso(r.first_ts) if r.events else None,
            last_event=_iso(r.last_ts) if r.events else None,
            days=(r.last_ts - r.first_ts) / 86400,
            elapsed_s=round(r.elapsed_s, 3),
            events_per_s=round(r.events / r.elapsed_s, 1) if r.elapsed_s > 0 else None,
        ),
        packs=packs,
        compare=compare,
    )


def _pack(label: str, t: PackTally, r: Replayed) -> PackResult:
    lab = r.labelled
    by_id = {rule.id: rule for rule in t.pack.rules}
    rules = []
    for rule_id, rt in t.rules.items():
        spec = by_id[rule_id].spec
        rules.append(
            RuleStats(
                rule=rule_id,
                mode=spec.mode,
                severity=spec.severity,
                where=f"{by_id[rule_id].file}:{by_id[rule_id].line}",
                hits=rt.hits,
                accounts=len(rt.accounts),
                first_hit=_iso(rt.first_ts),
                last_hit=_iso(rt.last_ts),
                true_hits=rt.true_hits if lab else None,
                precision=ratio(rt.true_hits, rt.hits, labelled=lab),
                recall=ratio(rt.true_hits, r.labelled_events, labelled=lab),
                campaigns={s: len(ids) for s, ids in sorted(rt.campaigns.items())},
                errors=t.pack.errors.get(rule_id, 0),
            )
        )
    return PackResult(
        label=label,
        directory=t.pack.source,
        version=t.pack.version,
        rules=rules,
        disabled=[rule.id for rule in t.pack.rules if rule.spec.mode == "disabled"],
        alerts=t.alerts,
        alerts_by_severity={s: t.by_severity[s] for s in SEVERITIES if t.by_severity[s]},
        alerted_accounts=len(t.alerted_accounts),
        true_alerts=t.true_alerts if lab else None,
        precision=ratio(t.true_alerts, t.alerts, labelled=lab),
        recall=ratio(t.true_alerts, r.labelled_events, labelled=lab),
        shadow_only_events=t.shadow_only,
        late_events=t.late,
        duplicate_events=t.duplicates,
        ops_alerts=dict(sorted(t.ops_alerts.items())),
    )


def _comparison(
    a: PackTally, b: PackTally, ra: PackResult, rb: PackResult, r: Replayed
) -> Comparison:
    assert r.compare is not None  # only called for two packs
    rules_a = {rule.id: rule for rule in a.pack.rules}
    rules_b = {rule.id: rule for rule in b.pack.rules}
    stats_a = {s.rule: s for s in ra.rules}
    stats_b = {s.rule: s for s in rb.rules}
    diffs = []
    for rule_id in [*rules_a, *(i for i in rules_b if i not in rules_a)]:
        rule_a, rule_b = rules_a.get(rule_id), rules_b.get(rule_id)
        sa = rule_a.spec if rule_a else None
        sb = rule_b.spec if rule_b else None
        presence = "both" if sa and sb else "A only" if sa else "B only"
        xa, xb = stats_a.get(rule_id), stats_b.get(rule_id)
        hits_a, hits_b = xa.hits if xa else 0, xb.hits if xb else 0
        diffs.append(
            RuleDiff(
                rule=rule_id,
                presence=presence,
                mode_a=sa.mode if sa else None,
                mode_b=sb.mode if sb else None,
                changed=bool(rule_a and rule_b and _definition(rule_a) != _definition(rule_b)),
                hits_a=hits_a,
                hits_b=hits_b,
                delta=hits_b - hits_a,
                precision_a=xa.precision if xa else None,
                precision_b=xb.precision if xb else None,
            )
        )
    transitions = r.compare.transitions
    order = sorted(transitions, key=lambda k: (-transitions[k], k))
    return Comparison(
        a=a.pack.source,
        b=b.pack.source,
        rules=diffs,
        alerts_a=a.alerts,
        alerts_b=b.alerts,
        alerts_delta=b.alerts - a.alerts,
        alerted_accounts_a=len(a.alerted_accounts),
        alerted_accounts_b=len(b.alerted_accounts),
        newly_alerted_accounts=_change(b.alerted_accounts - a.alerted_accounts),
        no_longer_alerted_accounts=_change(a.alerted_accounts - b.alerted_accounts),
        severity_changed_events=sum(transitions.values()),
        severity_transitions={k: transitions[k] for k in order},
        transition_samples={k: r.compare.samples[k] for k in order},
    )


def _definition(rule: Rule) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    """What decides a rule's behaviour: its spec without its own test cases (whose file
    lines move when the file is edited), and the entries of the named lists it reads."""
    spec = {k: v for k, v in msgspec.structs.asdict(rule.spec).items() if k != "tests"}
    return spec, {named.name: named.strings for named in rule.expr.lists}


def _change(accounts: set[str]) -> AccountChange:
    return AccountChange(count=len(accounts), sample=heapq.nsmallest(SAMPLE, accounts))
