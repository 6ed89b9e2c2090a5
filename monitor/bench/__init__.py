"""``vigil bench``: measured speed and memory, never asserted in unit tests.

Stages: ``core`` (the pipeline without a broker: decode, features, models, rules, per
stage in µs/event, medians of repeated runs in one process) and ``memory`` (state per
tracked account at 100k and 1M accounts). Results go to stdout (``--json`` for
machines) and are written up by hand in ``docs/benchmarks.md``.
"""
