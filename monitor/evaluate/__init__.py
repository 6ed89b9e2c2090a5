"""Offline evaluation (``vigil evaluate``): run a labelled stream through the same pipeline
and measure what the monitor would have caught, how early, and at what cost to honest users.

The stream is the simulator's output (:func:`monitor.evaluate.source.from_simulator`) or any
JSONL events file plus a JSONL labels file (:func:`monitor.evaluate.source.from_jsonl`).
:func:`monitor.evaluate.run.replay` routes each event to one of N
:class:`~monitor.pipeline.PartitionPipeline` objects by ``crc32(account_id) % N`` (as Kafka
keys pick partitions), with the event's own time as the clock, and keeps a compact record
of each alert and each labelled event plus every decision's score.
:func:`monitor.evaluate.metrics.build_report` turns those records into a
:class:`~monitor.evaluate.metrics.Report`; :mod:`~monitor.evaluate.report` prints it and
:mod:`~monitor.evaluate.plots` draws it. This package imports nothing heavy itself, so
building the ``vigil`` parser stays fast.

Definitions
-----------
"Order" below is stream order, the order the decisions are taken in; in a time-ordered
stream (the simulator's) it is event-time order, with ties kept in stream order.

alert
    A decision whose severity is not "none".
restriction
    A decision whose actions include force_password_reset or disable_payment_features
    (``Decision.restricts``).
campaign
    The labels sharing one campaign_id. Its accounts are the labelled accounts; its
    window runs from its first to its last labelled event time (inclusive).
detected
    Some alert on a labelled event of the campaign, or on any event of one of its
    accounts inside its window. Detection time = event time of the first such alert.
    "Restricted" is the same with restrictions instead of alerts.
detected before the first fraudulent payment succeeded
    The detecting decision comes no later than the campaign's first labelled payment
    with status "succeeded". The alert on that very payment counts as before: the
    decision is taken before the money leaves. A detected campaign with no succeeded
    fraudulent payment counts as before. Rates are over all campaigns of a scenario.
time to detection
    Detection time minus the campaign's first labelled event time.
events to detection
    The campaign's labelled events up to and including the first detecting one.
    Both are reported as medians over the detected campaigns of a scenario.
precision of alerts
    Alerts on labelled (malicious) events / all alerts; also for severity >= medium,
    >= high and >= critical, for restrictions, and per rule: each rule id (or reason
    code, such as "anomaly" for the model) with its true and false hits.
false restrictions per 1,000 honest accounts per day
    Distinct (account, UTC day) pairs with a restriction on an unlabelled event of an
    honest account (one never labelled in any campaign), divided by (honest accounts
    seen in the stream / 1000) and by the days the stream spans ((last - first event
    time) / 86400, at least 1e-9). "False alerts" is the same for alerts of any severity.
    Restrictions on unlabelled events of attacked (labelled) accounts are not in these
    rates; their account-days are reported apart.
money
    Would have left = the amounts of labelled payments with status "succeeded" and kind
    transfer or withdrawal (those move money out). Stopped = the part of it whose
    payments come at or after the first decision with disable_payment_features on the
    same account in the same campaign (on a labelled event of the campaign, or on an
    event of that account inside its window), including the payment whose own decision
    disables payments (the decision is taken before the money leaves). Amounts in
    different currencies are summed as plain numbers; sums per currency are reported too.
precision-recall curve
    Every decision's combined score (``Decision.score``) against "labelled or not":
    precision and recall at every distinct score as the threshold, and average precision
    (the sum over thresholds of the recall gained times the precision there).
"""

__all__: list[str] = []
