"""The replay report as text: the run, one block per pack, the comparison.

>>> table(["rule", "hits"], [["a", "1"], ["bb", "10"]])
['  rule  hits', '  a        1', '  bb      10']
"""

from __future__ import annotations

import msgspec

from monitor.evaluate.report import table

from .report import Comparison, PackResult, ReplayReport, RuleStats, RunInfo

__all__ = ["format_report", "table"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def format_report(r: ReplayReport) -> str:
    out = _run(r.run)
    for pack in r.packs:
        if pack.label != "A" and _same(pack, r.packs[0]):
            out += [
                "",
                f"Pack {pack.label}: {pack.directory} (version {pack.version}): the same "
                "rule files as pack A, with the same results",
            ]
            continue
        out += ["", *_pack(pack, r.run)]
    if r.compare is not None:
        out += ["", *_comparison(r.compare, r.run.labelled)]
    run = r.run
    speed = "-" if run.events_per_s is None else f"{run.events_per_s:,.0f}"
    out += ["", f"Run: {run.events:,} events in {run.elapsed_s:.1f} s ({speed} events/s)"]
    return "\n".join(out)


def _same(p: PackResult, first: PackResult) -> bool:
    return p.version == first.version and (
        msgspec.structs.replace(p, label=first.label, directory=first.directory) == first
    )


def _run(run: RunInfo) -> list[str]:
    out = [
        f"Vigil replay: {run.source}",
        f"  {run.events:,} events from {run.accounts:,} accounts over {run.days:.2f} days "
        f"({run.first_event or '-'} .. {run.last_event or '-'})",
    ]
    if run.labelled:
        campaigns = ", ".join(f"{s} {n:,}" for s, n in run.campaigns.items()) or "none"
        out.append(f"  {run.labelled_events:,} labelled events; campaigns: {campaigns}")
    else:
        out.append("  no labels: hits and accounts only (give --labels for precision/recall)")
    out.append(f"  {run.partitions} partitions; no actions taken (a replay has no responders)")
    if run.bad_lines or run.bad_label_lines or run.unmatched_labels:
        out.append(
            f"  skipped {run.bad_lines:,} bad event lines, {run.bad_label_lines:,} bad label "
            f"lines; {run.unmatched_labels:,} labels matched no event"
        )
        out += [f"    {e}" for e in run.bad_line_examples]
    return out


def _pack(p: PackResult, run: RunInfo) -> list[str]:
    modes = [r.mode for r in p.rules]
    disabled = f"; disabled: {', '.join(p.disabled)}" if p.disabled else ""
    severities = ", ".join(f"{s} {n:,}" for s, n in p.alerts_by_severity.items())
    out = [
        f"Pack {p.label}: {p.directory} (version {p.version}; {modes.count('active')} active, "
        f"{modes.count('shadow')} shadow rules{disabled})",
        f"  alerts {p.alerts:,} on {p.alerted_accounts:,} accounts"
        + (f" ({severities})" if severities else ""),
    ]
    if run.labelled:
        out.append(f"  alert precision {_pct(p.precision)}, recall {_pct(p.recall)}")
    if p.shadow_only_events:
        out.append(f"  shadow-only events {p.shadow_only_events:,} (shadow hits, no alert)")
    if p.late_events:
        out.append(f"  late events {p.late_events:,} (too old for their account's state)")
    if p.duplicate_events:
        out.append(f"  duplicate events {p.duplicate_events:,} (same event id as one replayed)")
    if p.ops_alerts:
        ops = ", ".join(f"{k} {v:,}" for k, v in p.ops_alerts.items())
        out.append(f"  ops alerts (population level): {ops}")
    if not p.rules:
        return [*out, "  (no rules)"]
    out += table(_rule_header(run.labelled), [_rule_row(x, run.labelled) for x in p.rules])
    touched = [x for x in p.rules if x.campaigns]
    if touched:
        out.append("  campaigns touched (true hits), of the stream's campaigns per scenario:")
        width = max(len(x.rule) for x in touched)
        for x in touched:
            parts = ", ".join(f"{s} {n}/{run.campaigns.get(s, 0)}" for s, n in x.campaigns.items())
            out.append(f"    {x.rule.ljust(width)}  {parts}")
    errors = [f"{x.rule} {x.errors:,}" for x in p.rules if x.errors]
    if errors:
        out.append(f"  arithmetic errors (rule did not fire): {', '.join(errors)}")
    return out


def _rule_header(labelled: bool) -> list[str]:
    header = ["rule", "mode", "severity", "hits", "accounts"]
    if labelled:
        header += ["true", "precision", "recall"]
    return [*header, "first hit", "last hit"]


def _rule_row(x: RuleStats, labelled: bool) -> list[str]:
    row = [x.rule, x.mode, x.severity, f"{x.hits:,}", f"{x.accounts:,}"]
    if labelled:
        row += [f"{x.true_hits or 0:,}", _pct(x.precision), _pct(x.recall)]
    return [*row, x.first_hit or "-", x.last_hit or "-"]


def _comparison(c: Comparison, labelled: bool) -> list[str]:
    header = ["rule", "in", "mode A", "mode B", "hits A", "hits B", "delta"]
    if labelled:
        header += ["precision A", "precision B"]
    header.append("definition")
    rows = []
    for d in c.rules:
        row = [d.rule, d.presence, d.mode_a or "-", d.mode_b or "-"]
        row += [f"{d.hits_a:,}", f"{d.hits_b:,}", _signed(d.delta)]
        if labelled:
            row += [_pct(d.precision_a), _pct(d.precision_b)]
        row.append("changed" if d.changed else "-" if d.presence != "both" else "same")
        rows.append(row)
    out = [f"Comparison: A = {c.a}, B = {c.b}"]
    out += table(header, rows) if rows else ["  (no rules in either pack)"]
    out += [
        f"  alerts: A {c.alerts_a:,}, B {c.alerts_b:,} ({_signed(c.alerts_delta)}); "
        f"alerted accounts: A {c.alerted_accounts_a:,}, B {c.alerted_accounts_b:,}",
        _accounts(
            "newly alerted accounts",
            c.newly_alerted_accounts.count,
            c.newly_alerted_accounts.sample,
        ),
        _accounts(
            "no longer alerted accounts",
            c.no_longer_alerted_accounts.count,
            c.no_longer_alerted_accounts.sample,
        ),
    ]
    if not c.severity_changed_events:
        out.append("  severity changed on no event")
    else:
        moves = ", ".join(f"{k} {n:,}" for k, n in c.severity_transitions.items())
        out.append(f"  severity changed on {c.severity_changed_events:,} events: {moves}")
        for k, ids in c.transition_samples.items():
            out.append(f"    {k}: e.g. {', '.join(ids)}")
    if c.unchanged:
        out.append("  no change: same hits per rule, same decisions")
    return out


def _accounts(what: str, count: int, sample: list[str]) -> str:
    more = f" ({', '.join(sample)}{', ...' if count > len(sample) else ''})" if count else ""
    return f"  {what}: {count:,}{more}"
