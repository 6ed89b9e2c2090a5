"""The rule pack in force, and its hot reload.

:class:`RuleSource` loads the pack (validated *and* every rule's own tests passed, see
``monitor/ruletests.py``), watches the rule directory for changes and reloads on request
(``POST /v1/rules/reload``). A pack that fails validation or its tests is refused: the
previous one stays in force and the problems (file:line) are kept for the API, the log
and ``vigil_rule_reloads_total{outcome="refused"}``. Subscribers (the stream runner) get
the new pack between batches, so no event is dropped or decided twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.metrics import Metrics
from monitor.ruleset import RuleLoadError, RulePack

log = logging.getLogger("vigil.rules")

Loader = Callable[[Path], RulePack]


def _default_loader(directory: Path) -> RulePack:
    from monitor.ruletests import load_and_test

    return load_and_test(directory)


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    version: str  # the version in force after the attempt
    problems: list[str] = field(default_factory=list)


class RuleSource:
    """Reloads may run in a worker thread (the API's, the watcher's): a swap is one
    reference assignment per subscriber, safe under the GIL, and a reload in progress
    never leaves a half-loaded pack in force."""

    def __init__(
        self, directory: Path, *, loader: Loader = _default_loader, metrics: Metrics | None = None
    ) -> None:
        self.directory = Path(directory)
        self.loader = loader
        self.metrics = metrics
        self.pack = loader(self.directory)  # at start-up a bad pack is fatal: nothing to keep
        self.loaded_at = time.time()
        self.last_problems: list[str] = []
        self._subscribers: list[Callable[[RulePack], None]] = []
        self._fingerprint = self._scan()
        self._gauge()

    def subscribe(self, callback: Callable[[RulePack], None]) -> None:
        self._subscribers.append(callback)

    def reload(self) -> ReloadOutcome:
        """Load the directory again; swap the pack in if it is valid and its tests pass."""
        self._fingerprint = self._scan()
        try:
            pack = self.loader(self.directory)
        except RuleLoadError as exc:
            self.last_problems = list(exc.problems)
            log.error(
                "rule pack refused, %s stays in force: %s",
                self.pack.version,
                "; ".join(exc.problems),
            )
            self._count("refused")
            return ReloadOutcome(False, self.pack.version, list(exc.problems))
        self.last_problems = []
        if pack.version != self.pack.version:
            old, self.pack = self.pack, pack
            self.loaded_at = time.time()
            for callback in self._subscribers:
                callback(pack)
            log.info("rule pack %s -> %s (%d rules)", old.version, pack.version, len(pack.rules))
            self._gauge(old.version)
        self._count("loaded")
        return ReloadOutcome(True, self.pack.version)

    async def watch(self, stop: asyncio.Event, interval_s: float = 2.0) -> None:
        """Reload whenever a rule or list file changes (polled: no extra dependency,
        and works the same on a Kubernetes ConfigMap's symlink swap)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if not stop.is_set() and self._scan() != self._fingerprint:
                # loading runs every rule's own tests (~0.3 s): off the event loop
                await asyncio.to_thread(self.reload)

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        files = [*self.directory.glob("*.yaml"), *self.directory.glob("lists/*")]
        out = []
        for path in sorted(files):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.rule_reloads.labels(outcome=outcome).inc()

    def _gauge(self, old: str | None = None) -> None:
        if self.metrics is None:
            return
        if old is not None:
            self.metrics.rule_pack_info.labels(version=old).set(0)
        self.metrics.rule_pack_info.labels(version=self.pack.version).set(1)
