"""Garbage-collector settings for a process that handles tens of thousands of events a second.

Almost everything the pipeline allocates per event (feature dicts, decisions) is freed by
reference counting the moment it is done with; CPython's cycle collector, at its default
threshold of 700 allocations, still ran a generation-0 pass every ~70 events and now and
then a full pass over every live account state — 8% of ``vigil bench core``'s time at 5,000
accounts, and a pause that grows with the number of accounts. Vigil raises the first
threshold (cycles are still collected, just in larger, rarer batches) and moves what is
alive at start-up out of the collector's sight (``gc.freeze``).

>>> import gc
>>> before = gc.get_threshold()
>>> tune_gc(50_000, freeze=False)
>>> gc.get_threshold()[0]
50000
>>> tune_gc(0)  # 0: Python's defaults
>>> gc.get_threshold() == (700, 10, 10)
True
>>> gc.set_threshold(*before)
"""

from __future__ import annotations

import gc

_DEFAULT = (700, 10, 10)


def tune_gc(gen0_threshold: int, *, freeze: bool = True) -> None:
    """Collect generation 0 every ``gen0_threshold`` allocations (0: Python's defaults);
    ``freeze``: exempt everything alive now from collection for good."""
    if gen0_threshold <= 0:
        gc.set_threshold(*_DEFAULT)
        return
    gc.set_threshold(gen0_threshold, 50, 100)
    if freeze:
        gc.freeze()  # modules, the rule pack, settings: alive for the whole process


def settle() -> None:
    """Exempt everything alive now from future collections (``gc.freeze``): called
    after partitions are restored and after each checkpoint, so the collector's full
    passes never walk a million account states (each would pause the stream for about
    a second). Account states are freed by reference counting when they expire; they
    hold no cycles, so nothing is kept alive by freezing them."""
    gc.freeze()
