"""`python -m bot <args>` in a subprocess, for end-to-end tests and benchmarks.

    async with Service(env, cwd, name="worker-a") as service:   # started; SIGTERM on exit
        ...                                                      # service.output: its lines
        assert await service.stop() == 0, service.log()

The process is configured only by `env` (as a deployment would be); stdout and stderr are
read as they come and kept (`output`, `log()`) for failure messages. Leaving the context sends
SIGTERM (so that the service also stops its embedded Valkey) and kills it if it has not
exited within `deadline` seconds.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self


@dataclass
class Service:
    """One `python -m bot` process; its output is kept for failure messages."""

    env: dict[str, str]
    cwd: Path
    args: tuple[str, ...] = ("run",)
    name: str = "service"
    deadline: float = 60.0  # seconds to wait for it to exit when stopped
    output: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def __aenter__(self) -> Self:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *self.args, cwd=self.cwd, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            self._readers.append(asyncio.create_task(self._read(stream)))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)  # so that it stops its embedded Valkey too
            try:
                await asyncio.wait_for(self.proc.wait(), self.deadline)
            except TimeoutError:
                self.proc.kill()
        if self.proc is not None:
            await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.output.append(line.decode(errors="replace").rstrip("\n"))

    @property
    def started(self) -> bool:
        """True once the service loop runs (it handles SIGTERM from then on)."""
        return any("scheduler: started" in line for line in self.output)

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.proc is not None and self.proc.returncode is None

    def log(self, lines: int = 80) -> str:
        """The last lines the process wrote (stdout and stderr interleaved), under its name."""
        return f"--- {self.name} ---\n" + "\n".join(self.output[-lines:])

    async def wait(self) -> int:
        """Wait for the process to exit on its own; its exit status."""
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), self.deadline)
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status once it has exited."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()

    async def killed(self) -> None:
        """Kill and wait until the process is gone."""
        self.kill()
        assert self.proc is not None
        await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
