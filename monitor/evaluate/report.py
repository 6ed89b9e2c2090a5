"""The evaluation as text: a per-scenario table, the overall block, the rules, the targets.

>>> duration(42), duration(750), duration(9000), duration(None)
('42 s', '12.5 min', '2.5 h', '-')
"""

from __future__ import annotations

from .metrics import Report, Target

__all__ = ["duration", "format_report"]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _count_pct(n: int, of: int) -> str:
    return f"{n:,} ({_pct(n / of if of else None)})"


def _num(x: float | None, fmt: str = ",.2f") -> str:
    return "-" if x is None else format(x, fmt)


def table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned first column, the others right-aligned (also used by vigil replay)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return (indent + "  ".join([first, *rest])).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _target(t: Target) -> str:
    mark = {True: "MET   ", False: "MISSED", None: "N/A   "}[t.met]
    if t.value is None:
        value = "no data"
    elif t.op == ">=" and t.threshold <= 1:
        value = f"{_pct(t.value)} (target {t.op} {_pct(t.threshold)})"
    else:
        value = f"{t.value:.3f} (target {t.op} {t.threshold:g})"
    return f"  [{mark}] {t.name}: {value}"


def format_report(r: Report) -> str:
    run, o = r.run, r.overall
    out = [
        f"Vigil evaluation: {run.source}",
        f"  {run.events:,} events ({o.labelled_events:,} labelled) from {run.accounts:,} "
        f"accounts over {run.days:.2f} days ({run.first_event or '-'} .. "
        f"{run.last_event or '-'})",
        f"  rules {run.rules_version}, {run.partitions} partitions",
    ]
    if run.bad_lines or run.bad_label_lines or run.unmatched_labels:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(run.bad_line_reasons.items()))
        out.append(
            f"  skipped {run.bad_lines:,} bad event lines ({reasons or 'none'}), "
            f"{run.bad_label_lines:,} bad label lines; "
            f"{run.unmatched_labels:,} labels matched no event"
        )
        out += [f"    {e}" for e in run.bad_line_examples]
    if run.late_events:
        out.append(f"  {run.late_events:,} events too late for their account's state (no decision)")
    if run.ops_alerts:
        ops = ", ".join(f"{k} {v:,}" for k, v in sorted(run.ops_alerts.items()))
        out.append(f"  ops alerts (population level, never restrict): {ops}")

    out += ["", "Per attack scenario"]
    header = [
        "scenario",
        "campaigns",
        "detected",
        "before 1st payment",
        "restricted",
        "median time",
        "median events",
        "money left",
        "stopped",
    ]
    rows = []
    for s in r.scenarios:
        for row in [s, *(v for v in r.variants if v.scenario == s.scenario)]:
            rows.append(
                [
                    row.scenario if row.variant is None else f"  - {row.variant}",
                    f"{row.campaigns:,}",
                    _count_pct(row.detected, row.campaigns),
                    _count_pct(row.detected_before_first_payment, row.campaigns),
                    _count_pct(row.restricted, row.campaigns),
                    duration(row.median_time_to_detection_s),
                    _num(row.median_events_to_detection, "g"),
                    _num(row.money_left),
                    _num(row.money_stopped),
                ]
            )
    out += table(header, rows) if rows else ["  (no labelled campaigns)"]

    h, m = o.honest, o.money
    by_sev = ", ".join(
        f">= {p.min_severity} {_pct(p.precision)} of {p.alerts:,}" for p in o.precision[1:]
    )
    out += [
        "",
        "Overall",
        f"  alerts                {o.alerts:,}, precision {_pct(o.precision[0].precision)} "
        f"({by_sev})",
        f"  restrictions          {o.restrictions:,}, precision {_pct(o.restriction_precision)}",
        f"  false restrictions    {_num(h.false_restrictions_per_1000_per_day, '.3f')} per 1,000 "
        f"honest accounts per day ({h.false_restrictions:,} account-days, "
        f"{h.honest_accounts:,} honest accounts)",
        f"  false alerts          {_num(h.false_alerts_per_1000_per_day, '.3f')} per 1,000 "
        f"honest accounts per day ({h.false_alerts:,} account-days)",
        f"  attacked accounts     {h.attacked_accounts:,}; restrictions on their unlabelled "
        f"events: {h.attacked_account_restrictions:,} account-days (not in the rates above)",
        f"  money                 would have left {m.would_have_left:,.2f}, stopped "
        f"{m.stopped:,.2f} ({_pct(m.stopped_share)}); currencies summed as plain numbers",
    ]
    for cur, sums in m.by_currency.items():
        out.append(
            f"    {cur:<20}  would have left {sums['would_have_left']:,.2f}, "
            f"stopped {sums['stopped']:,.2f}"
        )
    pts = ", ".join(
        f">= {p['threshold']:g}: P {_pct(p['precision'])} R {_pct(p['recall'])}"
        for p in o.pr.points
        if p["threshold"] in (0.3, 0.5, 0.7, 0.9)
    )
    out.append(f"  score                 average precision {_num(o.pr.average_precision, '.3f')}")
    out.append(f"    {pts}")

    out += ["", "Rules (alerts they fired on)"]
    rule_rows = [
        [x.rule, f"{x.hits:,}", f"{x.true_hits:,}", f"{x.false_hits:,}", _pct(x.precision)]
        for x in o.rules
    ]
    out += (
        table(["rule", "hits", "true", "false", "precision"], rule_rows)
        if rule_rows
        else ["  (no alerts)"]
    )

    out += ["", "Targets"] + [_target(t) for t in r.targets]
    out += [
        "",
        f"Run: {run.events:,} events in {run.elapsed_s:.1f} s "
        f"({_num(run.events_per_s, ',.0f')} events/s end to end; "
        f"pipeline alone {_num(run.pipeline_events_per_s, ',.0f')} events/s)",
    ]
    if r.plots:
        out.append("Plots: " + ", ".join(r.plots))
    return "\n".join(out)
