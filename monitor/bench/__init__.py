"""``vigil bench``: measured speed and memory, never asserted in unit tests.

Stages: ``core`` (the pipeline without a broker: decode, features, models, rules, and
the runner's store writes and metrics, per stage in µs/event, medians of repeated runs
in one process), ``memory`` (state per tracked account at 100k and 1M accounts),
``latency`` (decision and command latency at fixed offered loads through the broker),
``e2e`` (events/s through the broker with full detection, against raw consume + decode
of the same messages in the same run) and ``scaling`` (1 vs 2 monitor processes in one
consumer group). Results go to stdout (``--json`` for machines) and are written up by
hand in ``docs/benchmarks.md``.
"""
