"""Failure injection for the failure tests: ``vigil run`` as a subprocess (started, killed
with SIGKILL, stopped with SIGTERM), a TCP proxy whose connections can be cut, producing
a workload at a pace, and polling until a condition holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from monitor.config import Settings
from monitor.store import AlertStore
from monitor.stream.embedded import free_port
from tests.e2e.harness import committed_offsets, end_positions

T = TypeVar("T")
_RESTORED = re.compile(r"partition (\d+) restored from its checkpoint at offset (\d+)")
CHECKPOINT_KEY = "chaos-ckpt-7Hq3Wm9Zx2Lp5Rv8Nt4K"
PG_ADMIN = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


async def wait_until(
    check: Callable[[], Awaitable[T | None]], timeout: float, what: str, every: float = 0.2
) -> T:
    """Poll ``check`` until it returns something other than None/False; return it. A
    check that fails (connection refused: not up yet) counts as not yet; an
    ``AssertionError`` in it ends the wait at once."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except AssertionError:
            raise
        except Exception as exc:
            last = exc
        else:
            if last is not None and last is not False:
                return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def env_of(settings: Settings) -> dict[str, str]:
    """``settings`` as the VIGIL_* variables an operator would set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"VIGIL_{name.upper()}"] = str(value)
    return env


class Monitor:
    """One ``vigil run`` subprocess (a member of the settings' consumer group), its
    output in ``log``; metrics served unauthenticated on a port of its own."""

    def __init__(self, settings: Settings, log: Path, *, api: bool = False) -> None:
        self.metrics_port = free_port()
        self.settings = settings.model_copy(
            update={"metrics_port": self.metrics_port, "api_port": free_port()}
        )
        self.api = api
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Monitor:
        cmd = [sys.executable, "-m", "monitor.cli", "run"] + ([] if self.api else ["--no-api"])
        with self.log.open("ab") as out:
            out.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                cmd,
                env=env_of(self.settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no checkpoint, no commit, no goodbye to the group."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def terminate(self, timeout: float = 30.0) -> tuple[float, int]:
        """SIGTERM; (seconds until the process exited, its exit code)."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(self.proc.wait, timeout)
        return time.monotonic() - t0, code

    def ensure_stopped(self) -> None:
        """SIGKILL if still running (cleanup after a failed test)."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    async def metrics(self) -> dict[str, float]:
        """The process's Prometheus samples, each under its name with labels
        (``vigil_commits_total{outcome="ok"}``) and summed under its bare name."""
        async with httpx.AsyncClient(timeout=2) as http:
            text = (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                sample, value = line.rsplit(" ", 1)
                name = sample.split("{", 1)[0]
                out[name] = out.get(name, 0.0) + float(value)
                if sample != name:
                    out[sample] = float(value)
        return out

    async def readyz(self) -> dict[str, Any]:
        """The member's ``/readyz`` body (needs ``api=True``), as the break-glass admin."""
        token = self.settings.admin_token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        url = f"http://127.0.0.1:{self.settings.api_port}/readyz"
        async with httpx.AsyncClient(timeout=5, headers=headers) as http:
            body: dict[str, Any] = (await http.get(url)).json()
        return body

    def restored(self) -> dict[int, int]:
        """Partition -> the checkpoint offset this process restored it from (its log)."""
        found = _RESTORED.findall(self.log.read_text(errors="replace"))
        return {int(p): int(offset) for p, offset in found}

    async def wait_assigned(self, timeout: float = 60.0) -> None:
        async def assigned() -> bool:
            assert self.alive, self.log.read_text()[-3000:]
            return (await self.metrics()).get("vigil_partitions_assigned", 0) > 0

        await wait_until(assigned, timeout, f"{self.log.name} to get partitions")


def monitor_settings(settings: Settings, rules_dir: Path, **changes: Any) -> Settings:
    """The failure tests' service settings: probe rules, checkpoints every second."""
    return settings.model_copy(
        update={
            "rules_dir": rules_dir,
            "checkpoint_key": SecretStr(CHECKPOINT_KEY),
            "checkpoint_interval_s": 1.0,
            **changes,
        }
    )


async def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    *,
    seconds: float = 0.0,
    chunks: int = 20,
) -> None:
    """Produce ``messages`` in order (keyed), spread over ``seconds`` in ``chunks``."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
        request_timeout_ms=120_000,  # a broker frozen for a minute: wait, don't resend
        max_request_size=1024 * 1024,
    )
    await producer.start()
    try:
        size = max(1, -(-len(messages) // chunks))
        for i in range(0, len(messages), size):
            t0 = time.monotonic()
            futures = [
                await producer.send(topic, value=v, key=k) for k, v in messages[i : i + size]
            ]
            await asyncio.gather(*futures)
            if seconds:
                await asyncio.sleep(max(0.0, seconds / chunks - (time.monotonic() - t0)))
    finally:
        await producer.stop()


async def caught_up(settings: Settings) -> dict[int, int] | None:
    """The committed offsets when they are the events topic's end offsets and the
    outbox is empty (everything decided, stored and published), else None."""
    ends = await end_positions(settings, settings.events_topic)
    committed = await committed_offsets(settings)
    if any(committed.get(p, 0) < end for p, end in ends.items()):
        return None
    store = AlertStore(settings.sqlalchemy_url)
    try:
        return committed if store.outbox_depth() == 0 else None
    finally:
        store.close()


class TcpProxy:
    """A TCP proxy on ``port`` to ``target``, run in a thread of its own (so a busy test
    loop never stalls it). ``cut()`` drops every connection and refuses new ones until
    ``restore()``."""

    def __init__(self, target: tuple[str, int], port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self.connections = 0
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        self._call(self._cut())
        self.cuts += 1

    def restore(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._pipes |= {writer, up_writer}
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )
        self._pipes -= {writer, up_writer}

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


class Database:
    """A PostgreSQL database of this test's own, so taking it down disturbs no one."""

    def __init__(self) -> None:
        self.name = f"vigil_chaos_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        url = sa.make_url(PG_ADMIN).set(database=self.name, drivername="postgresql")
        self.url = url.render_as_string(hide_password=False)

    def _sql(self, *statements: str) -> None:
        with self.admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))

    def _terminate(self) -> str:
        return (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
        )

    def create(self) -> None:
        self._sql(f'CREATE DATABASE "{self.name}"')

    def down(self) -> None:
        """Refuse new sessions and end the open ones (as a crashed server would)."""
        self._sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false', self._terminate())

    def up(self) -> None:
        self._sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        self.down()
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}"')
        self.admin.dispose()
