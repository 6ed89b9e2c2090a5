"""How busy the machine was while a bench measured: on a shared machine a run only
counts as quiet if other processes left the cores alone.

Reads Linux ``/proc``; elsewhere every sample is ``None`` and nothing is reported.

>>> a = sample([])
>>> b = sample([])
>>> a is None or (b is not None and b.busy >= a.busy)
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSample:
    busy: float  # CPU-seconds the whole machine has been busy since boot
    pids: float  # CPU-seconds used so far by the processes sampled (e.g. the broker)


def _tick() -> int:
    return os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait
    return (sum(fields[:8]) - fields[3] - fields[4]) / _tick()


def _pid_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:  # exited: it used nothing more
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm)"
    return (int(fields[11]) + int(fields[12])) / _tick()  # utime + stime


def sample(pids: Iterable[int]) -> CpuSample | None:
    """The machine's busy time and the CPU time of ``pids``, now (None off Linux)."""
    try:
        busy = _machine_busy()
    except (OSError, ValueError, IndexError):
        return None
    return CpuSample(busy=busy, pids=sum(_pid_cpu(p) for p in pids))


def load_report(
    start: CpuSample | None,
    end: CpuSample | None,
    *,
    wall: float,
    own_cpu: float,
    cores: int | None = None,
) -> dict[str, float]:
    """CPU the sampled processes (the broker) used between ``start`` and ``end``, and
    the share of the machine's capacity that neither they nor the measured processes
    (``own_cpu`` CPU-seconds) used: other people's work, 0 on a quiet machine.

    >>> start, end = CpuSample(busy=100.0, pids=10.0), CpuSample(busy=118.0, pids=14.0)
    >>> load_report(start, end, wall=10.0, own_cpu=9.0, cores=2)
    {'broker_cpu_seconds': 4.0, 'others_cpu_share': 0.25}
    """
    if start is None or end is None or wall <= 0:
        return {}
    cores = cores or os.cpu_count() or 1
    broker = end.pids - start.pids
    others = max(0.0, end.busy - start.busy - broker - own_cpu)
    return {
        "broker_cpu_seconds": round(broker, 2),
        "others_cpu_share": round(others / (wall * cores), 2),
    }
