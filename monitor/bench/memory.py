"""State per tracked account: RSS growth while a partition's account table fills up.

Accounts get a realistic handful of events over three days (logins from two devices
and networks, one failed; purchases and a transfer to a few payees; a top-up), built
as event structs directly: the simulator would dominate the run time at 1M accounts.
The account table is the pipeline's own (``AccountState`` per account id, keyed by
the id string), so the figure includes the dict slot and the key, and each account keeps
the ids of its recent events as the pipeline does (to recognise redelivered copies).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.events import Event, Geo, Login, Payment, Topup
from monitor.features import AccountState, extract

_PAGE = os.sysconf("SC_PAGE_SIZE")
_T0 = datetime(2026, 1, 5, tzinfo=UTC)
_HOME = Geo(lat=31.23, lon=121.47, country="CN", city="Shanghai")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def account_events(i: int) -> Iterator[Event]:
    acct = f"acct-{i:08d}"
    dev, dev2 = f"dev-{i:08x}", f"dev2-{i:08x}"
    ip, ip2 = f"10.{i % 250}.{i // 250 % 250}.7", f"172.16.{i % 250}.9"

    def at(hours: float) -> datetime:
        return _T0 + timedelta(hours=hours, seconds=i % 3600)

    yield Login(
        event_id=f"{acct}-l0",
        account_id=acct,
        ts=at(1),
        device_id=dev,
        ip=ip,
        geo=_HOME,
        channel="app",
        success=False,
        method="password",
        failure_reason="bad_password",
    )
    yield Login(
        event_id=f"{acct}-l1",
        account_id=acct,
        ts=at(1.01),
        device_id=dev,
        ip=ip,
        geo=_HOME,
        channel="app",
        success=True,
        method="password",
    )
    yield Topup(
        event_id=f"{acct}-t",
        account_id=acct,
        ts=at(2),
        device_id=dev,
        ip=ip,
        amount=500.0,
        currency="CNY",
        source_id=f"card-{i}",
        status="credited",
    )
    for k in range(6):
        yield Payment(
            event_id=f"{acct}-p{k}",
            account_id=acct,
            ts=at(3 + 10 * k),
            device_id=dev if k % 2 else dev2,
            ip=ip if k % 2 else ip2,
            geo=_HOME,
            amount=40.0 + 7 * k,
            currency="CNY",
            kind="transfer" if k == 5 else "purchase",
            payee_id=f"payee-{(i + k) % 997}",
            status="succeeded",
        )
    yield Login(
        event_id=f"{acct}-l2",
        account_id=acct,
        ts=at(70),
        device_id=dev2,
        ip=ip2,
        geo=_HOME,
        channel="app",
        success=True,
        method="biometric",
    )


GRACE_S = 300.0  # VIGIL_GRACE_S's default: ids of events this close to the newest are kept


def run_memory(accounts: int, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    gc.collect()
    before = rss_bytes()
    table: dict[str, AccountState] = {}
    events = 0
    t0 = time.perf_counter()
    for i in range(accounts):
        for event in account_events(i):
            state = table.get(event.account_id)
            if state is None:
                state = table[event.account_id] = AccountState()
            ts = event.epoch
            # the pipeline's memory of recent event ids (duplicates), as process() keeps it
            newest = max(ts, state.last_ts)
            state.admit(event.event_id, ts, newest - GRACE_S)
            state.last_ts = newest
            extract(state, event, ts)
            events += 1
        if progress is not None and i % 10_000 == 9_999:
            progress(10_000)
    elapsed = time.perf_counter() - t0
    gc.collect()
    grown = rss_bytes() - before
    return {
        "accounts": accounts,
        "events": events,
        "rss_growth_bytes": grown,
        "bytes_per_account": round(grown / accounts),
        "seconds": round(elapsed, 1),
    }
