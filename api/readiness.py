"""Readiness checks: each is an async callable returning ``None`` when fine or a short
string saying what is wrong. They run concurrently, each bounded by a timeout; an
exception or a timeout is a failure like any other (errors as data, never a crash).

>>> import asyncio
>>> async def ok() -> None: return None
>>> async def lagging() -> str: return "lag 250000 > 100000"
>>> async def broken() -> None: raise RuntimeError("no partitions assigned")
>>> r = Readiness({"ok": ok, "lag": lagging, "broker": broken}, timeout_s=1.0)
>>> asyncio.run(r.run())
(False, {'ok': 'ok', 'lag': 'lag 250000 > 100000', 'broker': 'no partitions assigned'})
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]

OK = "ok"
TIMED_OUT = "timed out"
DEFAULT_TIMEOUT_S = 2.0
_MAX_MESSAGE = 300


def describe(exc: BaseException) -> str:
    """One line an operator can read: the first line of the message, else the type."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"


class Readiness:
    """A named set of checks, run together by ``/readyz``."""

    def __init__(self, checks: Mapping[str, Check], *, timeout_s: float = DEFAULT_TIMEOUT_S):
        if timeout_s <= 0:
            raise ValueError(f"readiness timeout must be positive, got {timeout_s}")
        self.checks = dict(checks)
        self.timeout_s = timeout_s

    async def _one(self, name: str, check: Check) -> str:
        try:
            async with asyncio.timeout(self.timeout_s):
                problem = await check()
        except TimeoutError:
            log.warning("readiness check %s timed out after %.1f s", name, self.timeout_s)
            return TIMED_OUT
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, exc)
            return describe(exc)
        if problem is None:
            return OK
        return str(problem) or f"check {name} failed"

    async def run(self) -> tuple[bool, dict[str, str]]:
        """Run every check; ``(all_ok, {name: "ok" | problem})``."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._one(n, self.checks[n]) for n in names))
        outcome = dict(zip(names, results, strict=True))
        return all(r == OK for r in results), outcome
