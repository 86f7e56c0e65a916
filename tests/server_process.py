"""Real `lensgraph serve` processes for tests whose behaviour only shows in a real process:
two servers on one database, kill -9, SIGTERM with live clients."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BANNER = re.compile(r"listening on http://[^:]+:(\d+)")
START_TIMEOUT_S = 30.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @classmethod
    async def start(
        cls, database_url: str, log_path: Path, *args: str, wrapper: Sequence[str] = (), **env: str
    ) -> ServerProcess:
        """wrapper: a command the server runs under (say nsenter into a namespace holding a small disk)."""
        environment = {**os.environ, "LENSGRAPH_RATE_LIMITS": "false", **env}
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "graph.app.cli", "serve", "--host", "127.0.0.1", "--port", "0",
             "--database", database_url, *args],
            stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=Path(__file__).resolve().parents[1],
        )
        server = cls(proc, log_path, env=env)
        await server._wait_for_banner()
        return server

    async def _wait_for_banner(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = BANNER.search(self.log)
            if found:
                self.port = int(found.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log}")
            await asyncio.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start within {START_TIMEOUT_S} s:\n{self.log}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    async def terminate(self, timeout: float = 30.0) -> float:
        """SIGTERM, then wait; returns the seconds the process took to exit."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        while self.proc.poll() is None:
            if time.monotonic() - began > timeout:
                self.kill()
                raise RuntimeError(f"server ignored SIGTERM for {timeout} s:\n{self.log}")
            await asyncio.sleep(0.02)
        return time.monotonic() - began
