"""`lensgraph serve --workers N`: N full server processes on one port (Linux SO_REUSEPORT).

The parent reserves the address (bound with SO_REUSEPORT, never listening, so the
kernel hands it no connections; it keeps port 0's choice for restarts), then runs
N copies of `lensgraph serve` that listen on it with reuse_port=True; the kernel
spreads connections over them. Every worker is a complete server over the one
database: whatever must hold across processes already goes through the store
(idempotency claims, the live change feed, rate budgets per key, job leases).

The parent supervises: the first worker starts alone (it runs any migrations and
loads --demo data), then the others; one that cannot start stops the group with
its own one-line error and exit code. A worker that dies later is restarted with
backoff (one log line). SIGTERM or SIGINT is forwarded to every worker and the
parent exits 0 once they have drained. Unless the operator set one, a temporary
PROMETHEUS_MULTIPROC_DIR makes /metrics on any worker sum all of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from graph.app.settings import Settings

log = logging.getLogger("lensgraph")

# A worker writes its pid on this descriptor once it listens (set only in workers' environments).
READY_FD_ENV = "_LENSGRAPH_WORKER_READY_FD"
POLL_S = 0.05
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 30.0  # a worker that lived this long resets the backoff
KILL_GRACE_S = 5.0  # beyond the shutdown window, before a worker that will not stop is killed
PR_SET_PDEATHSIG = 1
METRICS_DIR_PREFIX = "lensgraph-metrics-"  # then the supervisor's pid: a later start removes a dead one's


class WorkersError(Exception):
    """A reason the group cannot start, said in one line; exit_code is the failing worker's."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def supported() -> bool:
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def ready_fd() -> int | None:
    raw = os.environ.get(READY_FD_ENV)
    return int(raw) if raw else None


def tell_ready(fd: int) -> None:
    """In a worker, once it listens: the parent counts it as started."""
    with contextlib.suppress(OSError):
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)


def reserve(host: str, port: int) -> socket.socket:
    """Bind (not listen) the address with SO_REUSEPORT: port 0 becomes one port every worker shares, and a port
    a non-reuseport listener holds fails here, before any worker starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise WorkersError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise WorkersError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if port:  # another reuseport group (a second `serve --workers` by this user) would let us join it silently
        probe = "127.0.0.1" if family == socket.AF_INET and host in ("", "0.0.0.0") else host
        if family == socket.AF_INET6 and host in ("", "::"):
            probe = "::1"
        with contextlib.suppress(OSError), socket.create_connection((probe, port), timeout=0.5):
            sock.close()
            raise WorkersError(f"cannot listen on {host}:{port}: Address already in use")
    return sock


def _worker_environment(settings: Settings, port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in Settings.model_fields:
        env.pop(Settings.env_name(name), None)
        value = getattr(settings, name)
        if value is not None:
            env[Settings.env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    env[Settings.env_name("port")] = str(port)
    env[Settings.env_name("workers")] = "1"
    # The workers import this source tree whatever the working directory (say a bench snapshot).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _sweep_metrics_dirs() -> None:
    """Remove the metrics dirs of supervisors that are gone (killed with -9, so they could not remove their own)."""
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{METRICS_DIR_PREFIX}*-*"):
        owner = path.name[len(METRICS_DIR_PREFIX):].split("-", 1)[0]
        if not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """A worker whose supervisor is killed (kill -9) gets SIGTERM rather than serving on unsupervised."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready: bool = False
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(self, settings: Settings, demo: bool) -> None:
        self.settings = settings
        self.demo = demo
        self.slots = [Slot(i + 1) for i in range(settings.workers)]
        self.stopping = False
        self.metrics_dir: str | None = None
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._pending = b""
        self.started = False

    # -- processes ----------------------------------------------------------------

    def _spawn(self, slot: Slot, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "graph.app.cli", "serve"] + (["--demo"] if self.demo else [])
        slot.proc = subprocess.Popen(
            argv, env={**env, READY_FD_ENV: str(self._write_fd)}, pass_fds=(self._write_fd,),
            preexec_fn=_die_with_parent,
        )
        slot.started_at = time.monotonic()
        slot.ready = False
        slot.restart_at = None

    def _collect_ready(self) -> None:
        try:
            chunk = os.read(self._read_fd, 4096)
        except BlockingIOError:
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        pids = {int(line) for line in lines if line.strip()}
        for slot in self.slots:
            if slot.proc is not None and slot.proc.pid in pids:
                slot.ready = True

    def _forget(self, pid: int) -> None:
        """A dead worker's live gauges leave the sums (its counters stay: they counted real requests)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or self.metrics_dir:
            from prometheus_client import multiprocess

            with contextlib.suppress(OSError):
                multiprocess.mark_process_dead(pid, self.metrics_dir)

    def _wait_started(self, slots: list[Slot]) -> None:
        """Until every one of slots listens; a worker that exits first fails the start (it said why)."""
        while not all(s.ready for s in slots):
            if self.stopping:
                return
            self._collect_ready()
            for slot in slots:
                assert slot.proc is not None
                code = slot.proc.poll()
                if code is not None and not slot.ready:
                    self._forget(slot.proc.pid)
                    if code > 0:  # its one-line reason is already on stderr (shared with ours)
                        raise WorkersError("", code)
                    raise WorkersError(f"worker {slot.index} (pid {slot.proc.pid}) died during start-up "
                                       f"(signal {-code})")
            time.sleep(POLL_S)

    def _stop_all(self) -> None:
        live = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_seconds + KILL_GRACE_S
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop within the shutdown window: killed", proc.pid)
                proc.kill()
                proc.wait()
        for slot in self.slots:
            if slot.proc is not None:
                self._forget(slot.proc.pid)

    # -- the run ------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self, banner: object) -> int:
        """banner: called with the port once every worker listens."""
        settings = self.settings
        sock = reserve(settings.host, settings.port)
        port = int(sock.getsockname()[1])
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        env = _worker_environment(settings, port)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            _sweep_metrics_dirs()
            self.metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        try:
            first, *others = self.slots
            self._spawn(first, env)  # alone: migrations and the demo load happen once
            self._wait_started([first])
            for slot in others:
                self._spawn(slot, env)
            self._wait_started(others)
            if self.stopping:
                return 0
            assert callable(banner)
            banner(port)
            self.started = True
            log.info("%d workers on port %d (SO_REUSEPORT), pids %s", len(self.slots), port,
                     " ".join(str(s.proc.pid) for s in self.slots if s.proc is not None))
            self._supervise(env)
            log.info("shutting down: SIGTERM to %d workers (each drains at most %.0f s)", len(self.slots),
                     settings.shutdown_seconds)
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()
            os.close(self._read_fd)
            os.close(self._write_fd)
            if self.metrics_dir:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
            if self.started:  # a failed start said its one line already
                log.info("stopped")

    def _supervise(self, env: dict[str, str]) -> None:
        while not self.stopping:
            self._collect_ready()
            now = time.monotonic()
            for slot in self.slots:
                if slot.restart_at is not None:
                    if now >= slot.restart_at:
                        self._spawn(slot, env)
                    continue
                assert slot.proc is not None
                code = slot.proc.poll()
                if code is None:
                    if slot.ready and now - slot.started_at > HEALTHY_AFTER_S:
                        slot.failures = 0
                    continue
                self._forget(slot.proc.pid)
                delay = min(BACKOFF_FIRST_S * 2 ** slot.failures, BACKOFF_MAX_S)
                slot.failures += 1
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                log.warning("worker %d (pid %d) died (%s); restarting in %.1f s", slot.index, slot.proc.pid, how,
                            delay)
                slot.restart_at = now + delay
            time.sleep(POLL_S)
