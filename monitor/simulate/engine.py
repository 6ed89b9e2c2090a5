"""Merge every account's honest stream and every campaign into one event-time-ordered stream."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from operator import itemgetter

from msgspec.structs import replace

from monitor.events import Event

from .attacks import plan_campaigns
from .honest import honest_stream
from .model import Label, SimConfig, SimStats
from .population import build_population, merchant_pool

__all__ = ["count", "generate"]


def generate(cfg: SimConfig) -> Iterator[tuple[Event, Label | None]]:
    """Yield ``(event, label)`` in event-time order; ``label`` is None for honest events.

    Lazy: one pending draft per account and per campaign is held at a time (a heap merge),
    so memory is O(accounts), not O(events). Event ids are numbered in output order, so they
    say nothing about which stream an event came from. Ties in time keep stream order, which
    makes the output a pure function of ``cfg``.
    """
    merchants = merchant_pool(cfg.seed)
    accounts = build_population(
        cfg.accounts, cfg.seed, merchants, cfg.start_epoch, cfg.end_epoch, cfg.travel_per_day
    )
    streams = [honest_stream(a, cfg, merchants) for a in accounts]
    streams += plan_campaigns(cfg, accounts, merchants)
    for n, (_, draft, tag) in enumerate(heapq.merge(*streams, key=itemgetter(0))):
        event = replace(draft, event_id=f"ev-{cfg.seed}-{n:010d}")
        if tag is None:
            yield event, None
        else:
            campaign_id, scenario, stage, variant = tag
            label = Label(event.event_id, event.account_id, campaign_id, scenario, stage, variant)
            yield event, label


def count(stats: SimStats, label: Label | None, seen: set[str]) -> None:
    """Add one produced event to ``stats`` (``seen`` holds the campaign ids met so far)."""
    stats.events += 1
    if label is not None:
        stats.malicious += 1
        if label.campaign_id not in seen:
            seen.add(label.campaign_id)
            stats.campaigns[label.scenario] = stats.campaigns.get(label.scenario, 0) + 1
