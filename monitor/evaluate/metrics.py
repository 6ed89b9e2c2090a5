"""The evaluation's numbers, as pure functions over the replay's records.

The definitions are in the package docstring (:mod:`monitor.evaluate`) and in
``vigil evaluate --help``. Everything here is deterministic given the records.

>>> from monitor.simulate import Label
>>> from monitor.evaluate.run import PaymentInfo
>>> def lab(event_id, stage):
...     return Label(event_id, "a1", "c1", "account_takeover", stage)
>>> records = [
...     Record(seq=0, event_id="e1", account_id="a1", ts=100.0, severity="none", score=0.0,
...            label=lab("e1", "takeover_login")),
...     Record(seq=1, event_id="e2", account_id="a1", ts=160.0, severity="critical", score=0.9,
...            sources=("security_change_then_transfer",), restricts=True,
...            disables_payments=True, label=lab("e2", "drain_transfer"),
...            payment=PaymentInfo(500.0, "USD", "transfer", "succeeded")),
... ]
>>> [c] = campaign_outcomes(records)
>>> c.detected, c.before_first_payment, c.time_to_detection_s, c.events_to_detection
(True, True, 60.0, 2)
>>> c.money_left, c.money_stopped
({'USD': 500.0}, {'USD': 500.0})
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import msgspec
import numpy as np
import numpy.typing as npt

from monitor.decision import SEVERITY_RANK
from monitor.simulate.model import SCENARIOS

from .run import Collected, Record

__all__ = [
    "OUTGOING_KINDS",
    "TARGETS",
    "CampaignResult",
    "HonestRates",
    "Money",
    "Overall",
    "PRSummary",
    "Report",
    "RuleResult",
    "RunInfo",
    "ScenarioResult",
    "SeverityPrecision",
    "Target",
    "alert_precision",
    "average_precision",
    "build_report",
    "campaign_outcomes",
    "honest_rates",
    "money",
    "pr_curve",
    "pr_summary",
    "rule_results",
    "scenario_results",
    "targets",
    "variant_results",
]

OUTGOING_KINDS = frozenset({"transfer", "withdrawal"})  # payments that move money out
_MIN_DAYS = 1e-9
_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


# -- report types ---------------------------------------------------------------------
class CampaignResult(msgspec.Struct, kw_only=True):
    campaign_id: str
    scenario: str
    variant: str | None = None  # e.g. account_takeover: "far_away" | "local_proxy"
    accounts: int
    labelled_events: int
    start_ts: float
    end_ts: float
    detected: bool
    detection_ts: float | None = None
    detection_event_id: str | None = None
    detected_by: list[str] = []  # rule ids / reason codes of the detecting decision
    time_to_detection_s: float | None = None
    events_to_detection: int | None = None
    first_succeeded_payment_ts: float | None = None
    before_first_payment: bool = False
    restricted: bool = False
    restriction_ts: float | None = None
    money_left: dict[str, float] = {}  # currency -> would have left
    money_stopped: dict[str, float] = {}  # currency -> stopped


class ScenarioResult(msgspec.Struct, kw_only=True):
    scenario: str
    variant: str | None = None  # set on the per-variant rows only
    campaigns: int
    labelled_events: int
    detected: int
    detected_before_first_payment: int
    restricted: int
    with_succeeded_payment: int  # campaigns with at least one succeeded fraudulent payment
    detection_rate: float | None
    before_first_payment_rate: float | None
    restriction_rate: float | None
    median_time_to_detection_s: float | None
    median_events_to_detection: float | None
    money_left: float
    money_stopped: float


class SeverityPrecision(msgspec.Struct, kw_only=True):
    min_severity: str
    alerts: int
    true_alerts: int
    precision: float | None


class RuleResult(msgspec.Struct, kw_only=True):
    rule: str  # rule id, or a reason code such as "anomaly"
    hits: int
    true_hits: int
    false_hits: int
    precision: float | None


class HonestRates(msgspec.Struct, kw_only=True):
    honest_accounts: int
    days: float
    false_restrictions: int  # distinct (account, UTC day) pairs
    false_restrictions_per_1000_per_day: float | None
    false_alerts: int  # distinct (account, UTC day) pairs
    false_alerts_per_1000_per_day: float | None
    # not in the rates above: restrictions on the unlabelled events (the owner's own, or
    # the attacker's outside the labels) of accounts some campaign touched, as account-days
    attacked_accounts: int
    attacked_account_restrictions: int


class Money(msgspec.Struct, kw_only=True):
    would_have_left: float  # mixed currencies summed as plain numbers
    stopped: float
    stopped_share: float | None
    by_currency: dict[str, dict[str, float]]  # currency -> {"would_have_left", "stopped"}


class PRSummary(msgspec.Struct, kw_only=True):
    decisions: int
    malicious: int
    average_precision: float | None
    # precision and recall when alerting on score >= threshold
    points: list[dict[str, float | None]]


class Overall(msgspec.Struct, kw_only=True):
    events: int
    labelled_events: int
    alerts: int
    restrictions: int
    precision: list[SeverityPrecision]
    restriction_precision: float | None
    rules: list[RuleResult]
    honest: HonestRates
    money: Money
    pr: PRSummary


class Target(msgspec.Struct, kw_only=True):
    name: str
    value: float | None
    op: str  # ">=" or "<="
    threshold: float
    met: bool | None  # None: nothing to measure (e.g. no such campaigns)


class RunInfo(msgspec.Struct, kw_only=True):
    source: str
    events: int
    accounts: int
    labels: int
    bad_lines: int
    bad_line_reasons: dict[str, int]
    bad_line_examples: list[str]
    bad_label_lines: int
    unmatched_labels: int
    late_events: int  # too late for their account's state: no decision (the late topic)
    ops_alerts: dict[str, int]  # population-level (ops) alerts by rule id
    partitions: int
    rules_version: str
    first_event: str | None
    last_event: str | None
    days: float
    elapsed_s: float
    pipeline_s: float
    events_per_s: float | None
    pipeline_events_per_s: float | None


class Report(msgspec.Struct, kw_only=True):
    run: RunInfo
    scenarios: list[ScenarioResult]
    variants: list[ScenarioResult]  # per (scenario, variant) where labels name variants
    overall: Overall
    targets: list[Target]
    campaigns: list[CampaignResult]
    plots: list[str] = []


# -- campaigns ------------------------------------------------------------------------
def campaign_outcomes(records: Sequence[Record]) -> list[CampaignResult]:
    """One result per campaign id, in order of first appearance."""
    records = sorted(records, key=lambda r: r.seq)
    by_campaign: dict[str, list[Record]] = {}
    alerts_by_account: dict[str, list[Record]] = {}
    for r in records:
        if r.label is not None:
            by_campaign.setdefault(r.label.campaign_id, []).append(r)
        if r.is_alert:
            alerts_by_account.setdefault(r.account_id, []).append(r)
    return [_campaign(cid, labelled, alerts_by_account) for cid, labelled in by_campaign.items()]


def _campaign(
    campaign_id: str, labelled: list[Record], alerts_by_account: dict[str, list[Record]]
) -> CampaignResult:
    start = min(r.ts for r in labelled)
    end = max(r.ts for r in labelled)
    accounts = sorted({r.account_id for r in labelled})
    found = {r.seq: r for r in labelled if r.is_alert}
    for account in accounts:
        for r in alerts_by_account.get(account, ()):
            if start <= r.ts <= end:
                found[r.seq] = r
    alerts = sorted(found.values(), key=lambda r: r.seq)
    detection = alerts[0] if alerts else None
    restriction = next((r for r in alerts if r.restricts), None)
    first_paid = next((r for r in labelled if _succeeded(r)), None)

    stop_at: dict[str, int] = {}  # account -> seq of its first payment-disabling decision
    for r in alerts:
        if r.disables_payments:
            stop_at.setdefault(r.account_id, r.seq)
    left: dict[str, float] = {}
    stopped: dict[str, float] = {}
    for r in labelled:
        if r.payment is None or not _succeeded(r) or r.payment.kind not in OUTGOING_KINDS:
            continue
        cur = r.payment.currency
        left[cur] = left.get(cur, 0.0) + r.payment.amount
        if stop_at.get(r.account_id, r.seq + 1) <= r.seq:
            stopped[cur] = stopped.get(cur, 0.0) + r.payment.amount

    label = labelled[0].label
    assert label is not None  # grouped by label
    result = CampaignResult(
        campaign_id=campaign_id,
        scenario=label.scenario,
        variant=label.variant,
        accounts=len(accounts),
        labelled_events=len(labelled),
        start_ts=start,
        end_ts=end,
        detected=detection is not None,
        first_succeeded_payment_ts=first_paid.ts if first_paid else None,
        restricted=restriction is not None,
        restriction_ts=restriction.ts if restriction else None,
        money_left=left,
        money_stopped=stopped,
    )
    if detection is not None:
        result.detection_ts = detection.ts
        result.detection_event_id = detection.event_id
        result.detected_by = list(detection.sources)
        result.time_to_detection_s = detection.ts - start
        result.events_to_detection = sum(1 for r in labelled if r.seq <= detection.seq)
        result.before_first_payment = first_paid is None or detection.seq <= first_paid.seq
    return result


def _succeeded(r: Record) -> bool:
    return r.payment is not None and r.payment.status == "succeeded"


def scenario_results(campaigns: Iterable[CampaignResult]) -> list[ScenarioResult]:
    """Campaign results summed per scenario (the simulator's scenarios first, in its order).

    >>> c = CampaignResult(campaign_id="c", scenario="brute_force", accounts=1,
    ...                    labelled_events=9, start_ts=0.0, end_ts=60.0, detected=True,
    ...                    time_to_detection_s=30.0, events_to_detection=6,
    ...                    before_first_payment=True)
    >>> [s] = scenario_results([c, msgspec.structs.replace(c, campaign_id="d", detected=False,
    ...                         time_to_detection_s=None, before_first_payment=False)])
    >>> s.campaigns, s.detected, s.detection_rate, s.median_time_to_detection_s
    (2, 1, 0.5, 30.0)
    """
    groups: dict[str, list[CampaignResult]] = {}
    for c in campaigns:
        groups.setdefault(c.scenario, []).append(c)
    return [_summarise(scenario, None, groups[scenario]) for scenario in _scenario_order(groups)]


def variant_results(campaigns: Iterable[CampaignResult]) -> list[ScenarioResult]:
    """The same per (scenario, variant), for campaigns whose labels name a variant."""
    groups: dict[tuple[str, str], list[CampaignResult]] = {}
    for c in campaigns:
        if c.variant is not None:
            groups.setdefault((c.scenario, c.variant), []).append(c)
    rank = {s: i for i, s in enumerate(_scenario_order({s for s, _ in groups}))}
    return [
        _summarise(scenario, variant, groups[scenario, variant])
        for scenario, variant in sorted(groups, key=lambda k: (rank[k[0]], k[1]))
    ]


def _scenario_order(names: Iterable[str]) -> list[str]:
    present = set(names)
    return [s for s in SCENARIOS if s in present] + sorted(present - set(SCENARIOS))


def _summarise(scenario: str, variant: str | None, cs: list[CampaignResult]) -> ScenarioResult:
    n = len(cs)
    detected = [c for c in cs if c.detected]
    before = sum(c.before_first_payment for c in cs)
    restricted = sum(c.restricted for c in cs)
    return ScenarioResult(
        scenario=scenario,
        variant=variant,
        campaigns=n,
        labelled_events=sum(c.labelled_events for c in cs),
        detected=len(detected),
        detected_before_first_payment=before,
        restricted=restricted,
        with_succeeded_payment=sum(c.first_succeeded_payment_ts is not None for c in cs),
        detection_rate=len(detected) / n,
        before_first_payment_rate=before / n,
        restriction_rate=restricted / n,
        median_time_to_detection_s=_median(
            c.time_to_detection_s for c in detected if c.time_to_detection_s is not None
        ),
        median_events_to_detection=_median(
            c.events_to_detection for c in detected if c.events_to_detection is not None
        ),
        money_left=sum(sum(c.money_left.values()) for c in cs),
        money_stopped=sum(sum(c.money_stopped.values()) for c in cs),
    )


def _median(values: Iterable[float]) -> float | None:
    xs = list(values)
    return float(statistics.median(xs)) if xs else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# -- alerts ---------------------------------------------------------------------------
def alert_precision(records: Iterable[Record]) -> list[SeverityPrecision]:
    """Precision of the alerts at or above each severity (low = all alerts)."""
    alerts = [r for r in records if r.is_alert]
    out = []
    for severity in ("low", "medium", "high", "critical"):
        rank = SEVERITY_RANK[severity]
        chosen = [r for r in alerts if SEVERITY_RANK[r.severity] >= rank]
        true = sum(r.label is not None for r in chosen)
        out.append(
            SeverityPrecision(
                min_severity=severity,
                alerts=len(chosen),
                true_alerts=true,
                precision=_ratio(true, len(chosen)),
            )
        )
    return out


def rule_results(records: Iterable[Record]) -> list[RuleResult]:
    """Hits per rule id (or reason code) on alerts, most hits first."""
    hits: dict[str, list[int]] = {}
    for r in records:
        if not r.is_alert:
            continue
        for source in dict.fromkeys(r.sources):
            tp_fp = hits.setdefault(source, [0, 0])
            tp_fp[0 if r.label is not None else 1] += 1
    return [
        RuleResult(rule=rule, hits=tp + fp, true_hits=tp, false_hits=fp, precision=tp / (tp + fp))
        for rule, (tp, fp) in sorted(hits.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    ]


def honest_rates(
    records: Iterable[Record], accounts: Iterable[str], first_ts: float, last_ts: float
) -> HonestRates:
    """False restrictions and false alerts per 1,000 honest accounts per day.

    An account is attacked (and left out of these rates) if an attacker got further than
    failed login attempts on it; accounts that only saw failed attempts (credential
    stuffing, brute force that never succeeded) are honest customers, and restricting
    them is a false restriction."""
    records = list(records)
    labelled_accounts = {
        r.account_id for r in records if r.label is not None and not r.failed_login
    }
    honest = len(set(accounts) - labelled_accounts)
    days = max((last_ts - first_ts) / 86400.0, _MIN_DAYS)
    false_alerts: set[tuple[str, int]] = set()
    false_restrictions: set[tuple[str, int]] = set()
    attacked: set[tuple[str, int]] = set()
    for r in records:
        if not r.is_alert or r.label is not None:
            continue
        key = (r.account_id, int(r.ts // 86400))
        if r.account_id in labelled_accounts:
            if r.restricts:
                attacked.add(key)
            continue
        false_alerts.add(key)
        if r.restricts:
            false_restrictions.add(key)

    def rate(n: int) -> float | None:
        return n / (honest / 1000.0) / days if honest else None

    return HonestRates(
        honest_accounts=honest,
        days=days,
        false_restrictions=len(false_restrictions),
        false_restrictions_per_1000_per_day=rate(len(false_restrictions)),
        false_alerts=len(false_alerts),
        false_alerts_per_1000_per_day=rate(len(false_alerts)),
        attacked_accounts=len(labelled_accounts),
        attacked_account_restrictions=len(attacked),
    )


def money(campaigns: Iterable[CampaignResult]) -> Money:
    by_currency: dict[str, dict[str, float]] = {}
    for c in campaigns:
        for cur, amount in c.money_left.items():
            sums = by_currency.setdefault(cur, {"would_have_left": 0.0, "stopped": 0.0})
            sums["would_have_left"] += amount
            sums["stopped"] += c.money_stopped.get(cur, 0.0)
    left = sum(v["would_have_left"] for v in by_currency.values())
    stopped = sum(v["stopped"] for v in by_currency.values())
    return Money(
        would_have_left=left,
        stopped=stopped,
        stopped_share=_ratio(stopped, left),
        by_currency=dict(sorted(by_currency.items())),
    )


# -- scores ---------------------------------------------------------------------------
FloatArray = npt.NDArray[np.float64]


def pr_curve(
    scores: npt.ArrayLike, malicious: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(thresholds, precision, recall)`` for alerting on ``score >= threshold``, one point
    per distinct score, highest threshold first. Recall is NaN without malicious events.

    >>> t, p, r = pr_curve([0.9, 0.9, 0.5, 0.0], [True, False, True, False])
    >>> t.tolist(), p.tolist(), r.tolist()
    ([0.9, 0.5, 0.0], [0.5, 0.6666666666666666, 0.5], [0.5, 1.0, 1.0])
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(malicious, dtype=bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y, dtype=np.float64)
    fp = np.cumsum(~y, dtype=np.float64)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.array([], dtype=int)
    tp, fp, thresholds = tp[last], fp[last], s[last]
    precision = tp / (tp + fp)
    positives = float(y.sum())
    recall = tp / positives if positives else np.full_like(tp, np.nan)
    return thresholds, precision, recall


def average_precision(precision: FloatArray, recall: FloatArray) -> float | None:
    """Sum over thresholds of (recall gained) x precision; None without malicious events.

    >>> _, p, r = pr_curve([0.9, 0.9, 0.5, 0.0], [True, False, True, False])
    >>> round(average_precision(p, r), 4)  # 0.5 * 0.5 + 0.5 * 2/3
    0.5833
    """
    if not len(recall) or np.isnan(recall).any():
        return None
    gains = np.diff(np.r_[0.0, recall])
    return float(np.sum(gains * precision))


def pr_summary(scores: npt.ArrayLike, malicious: npt.ArrayLike) -> PRSummary:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(malicious, dtype=bool)
    _, precision, recall = pr_curve(s, y)
    positives = int(y.sum())
    points: list[dict[str, float | None]] = []
    for t in _THRESHOLDS:
        chosen = s >= t
        n = int(chosen.sum())
        tp = int((chosen & y).sum())
        points.append(
            {
                "threshold": t,
                "alerts": float(n),
                "precision": _ratio(tp, n),
                "recall": _ratio(tp, positives),
            }
        )
    return PRSummary(
        decisions=len(s),
        malicious=positives,
        average_precision=average_precision(precision, recall),
        points=points,
    )


# -- targets and the whole report -----------------------------------------------------
TARGETS = (
    ("account_takeover campaigns detected", "account_takeover", "detection_rate", ">=", 0.95),
    (
        "account_takeover detected before the first fraudulent payment succeeded",
        "account_takeover",
        "before_first_payment_rate",
        ">=",
        0.80,
    ),
    ("false restrictions per 1,000 honest accounts per day", None, "honest", "<=", 1.0),
)


def targets(scenarios: Sequence[ScenarioResult], honest: HonestRates) -> list[Target]:
    """The issue's acceptance targets, each marked met or missed."""
    by_name = {s.scenario: s for s in scenarios}
    out = []
    for name, scenario, attr, op, threshold in TARGETS:
        value: float | None
        if scenario is None:
            value = honest.false_restrictions_per_1000_per_day
        else:
            found = by_name.get(scenario)
            value = getattr(found, attr) if found is not None else None
        met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
        out.append(Target(name=name, value=value, op=op, threshold=threshold, met=met))
    return out


def build_report(c: Collected) -> Report:
    campaigns = campaign_outcomes(c.records)
    scenarios = scenario_results(campaigns)
    honest = honest_rates(c.records, c.accounts, c.first_ts, c.last_ts)
    restrictions = [r for r in c.records if r.restricts]
    overall = Overall(
        events=c.events,
        labelled_events=int(np.count_nonzero(c.malicious)),
        alerts=sum(r.is_alert for r in c.records),
        restrictions=len(restrictions),
        precision=alert_precision(c.records),
        restriction_precision=_ratio(
            sum(r.label is not None for r in restrictions), len(restrictions)
        ),
        rules=rule_results(c.records),
        honest=honest,
        money=money(campaigns),
        pr=pr_summary(c.scores, c.malicious),
    )
    st = c.source_stats
    run = RunInfo(
        source=c.source,
        events=c.events,
        accounts=len(c.accounts),
        labels=st.labels,
        bad_lines=st.bad_lines,
        bad_line_reasons=dict(st.bad_reasons),
        bad_line_examples=list(st.bad_examples),
        bad_label_lines=st.bad_label_lines,
        unmatched_labels=st.unmatched_labels,
        late_events=c.late_events,
        ops_alerts=dict(c.ops_alerts),
        partitions=c.partitions,
        rules_version=c.rules_version,
        first_event=_iso(c.first_ts) if c.events else None,
        last_event=_iso(c.last_ts) if c.events else None,
        days=honest.days,
        elapsed_s=c.elapsed_s,
        pipeline_s=c.pipeline_s,
        events_per_s=_ratio(c.events, c.elapsed_s),
        pipeline_events_per_s=_ratio(c.events, c.pipeline_s),
    )
    return Report(
        run=run,
        scenarios=scenarios,
        variants=variant_results(campaigns),
        overall=overall,
        targets=targets(scenarios, honest),
        campaigns=campaigns,
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
