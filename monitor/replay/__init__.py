"""Backtesting (``vigil replay``): run one rule pack, or two side by side, over recorded
events through the real feature pipeline, and report what each rule would have done.

The stream is an events file (JSONL, contract v1), optionally labelled by a labels file,
or a fresh simulator stream; reading it reuses :mod:`monitor.evaluate.source`.
:func:`monitor.replay.run.replay` routes each event to one of N
:class:`~monitor.pipeline.PartitionPipeline` objects by ``crc32(account_id) % N`` with the
event's own time as the clock, exactly as ``vigil evaluate`` does, and keeps only counters
and sets of ids (never the decisions), so long files replay in bounded memory.
:mod:`~monitor.replay.report` turns the tallies into a :class:`~monitor.replay.report.
ReplayReport`; :mod:`~monitor.replay.text` prints it.

Nothing is ever acted on: a replay has no responders, store or outbox; decisions are
computed and counted, then dropped.

Definitions
-----------
hit
    An event on which a rule's condition held. Shadow rules are evaluated live but never
    act; in a replay their hits are counted exactly like an active rule's and the report
    marks them "shadow". Disabled rules are not evaluated and do not appear in the rule
    tables (they are listed apart). Late events (too old for their account's state) are
    not evaluated.
alert
    A decision whose severity is not "none", as the service would take it: active rules
    and the anomaly model (shadow rules never change a decision).
shadow-only event
    An event with a shadow rule hit and no alert: what promoting the shadow rules would
    add.
accounts affected
    Distinct accounts with at least one hit of the rule.
true hit
    A hit on a labelled (malicious) event. Only when labels are given.
precision
    True hits / hits (alerts: labelled alerts / alerts).
recall
    True hits / labelled events of the stream, events of any campaign (alerts: labelled
    events alerted / labelled events).
campaigns touched
    Per attack scenario, the campaigns with at least one true hit, out of the campaigns of
    that scenario in the stream.
comparison (``--compare``)
    Pack A is ``--rules``, pack B the candidate. Both run over the same events, each in
    its own pipelines. Per rule id: present in A only, B only or both, its hits in each
    and the change, precision in each, and whether its definition changed. Newly alerted
    accounts have an alert under B and none under A; no longer alerted, the reverse.
    Severity changes count the events whose decision severity differs, by transition
    (e.g. "none→high").
"""

__all__: list[str] = []
