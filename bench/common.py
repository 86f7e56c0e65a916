"""Shared helpers for the benchmarks: a server to talk to, percentiles, and results output.

Every benchmark talks to 127.0.0.1 only. With --spawn a server subprocess is
started on a free local port with a temporary SQLite file (or the --database
URL given, sqlite:/// or mongodb://), is waited for on GET /api/health, and is
stopped (SIGINT, then SIGTERM, then SIGKILL) and its temp dir removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = ("127.0.0.1", "localhost")


# -- command line ---------------------------------------------------------------


def add_server_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("server")
    g.add_argument("--url", default="http://127.0.0.1:3000", help="a running server (default %(default)s)")
    g.add_argument("--spawn", action="store_true", help="start a server subprocess on a free 127.0.0.1 port")
    g.add_argument(
        "--database",
        help="with --spawn: sqlite:////abs/path.db or mongodb://127.0.0.1/... (default: a temp SQLite file)",
    )
    g.add_argument(
        "--repo",
        default=str(REPO),
        help="with --spawn: the source tree to run the server from, e.g. a `git archive` snapshot (default %(default)s)",
    )
    g.add_argument("--keep", action="store_true", help="with --spawn: keep the temp dir (database, server log)")
    g.add_argument("--cprofile", metavar="PATH", help="with --spawn: run the server under cProfile, write stats here")
    g.add_argument(
        "--pyspy",
        metavar="PATH",
        help="with --spawn: sample the server with py-spy during the measured phase; raw collapsed stacks here",
    )
    g.add_argument("--pyspy-bin", default="py-spy", help="py-spy executable (default: %(default)s on PATH)")
    g.add_argument(
        "--pyspy-native", action="store_true", help="py-spy --native: C frames too (pauses the server to sample)"
    )
    g.add_argument(
        "--pyspy-idle", action="store_true", help="py-spy --idle: sample waiting threads too (where the time goes, not only the CPU)"
    )
    g.add_argument(
        "--pyspy-gil", action="store_true",
        help="py-spy --gil: only the thread holding the GIL (what bounds a one-core server's throughput)",
    )
    g.add_argument("--pyspy-rate", type=int, default=200, help="py-spy samples per second (default %(default)s)")
    g.add_argument(
        "--api-key",
        default=os.environ.get("LENSGRAPH_BENCH_API_KEY"),
        help="sent as X-API-Key and Authorization: Bearer (default $LENSGRAPH_BENCH_API_KEY; none in dev mode)",
    )
    g.add_argument(
        "--rate-limits",
        action="store_true",
        help="with --spawn: keep the server's rate limits on (default: LENSGRAPH_RATE_LIMITS=false, "
        "since /events allows 60 requests a minute per IP)",
    )
    g.add_argument("--startup-timeout", type=float, default=30.0, help="seconds to wait for /api/health")
    g.add_argument(
        "--workers", type=int, default=1,
        help="with --spawn: serve --workers N, N server processes on the port (SO_REUSEPORT; default %(default)s)",
    )


def command_line() -> str:
    """The command exactly as it was typed (interpreter, script and arguments)."""
    return shlex.join(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])


def print_header(title: str, args: argparse.Namespace, extra: dict[str, Any] | None = None) -> None:
    print(f"# {title}")
    print(f"# command: {command_line()}")
    print(f"# cwd: {Path.cwd()}")
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    for key, value in (extra or {}).items():
        print(f"# {key}: {value}")
    sys.stdout.flush()


def check_local(url: str) -> None:
    host = urlparse(url).hostname
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing to benchmark {url}: only 127.0.0.1 is allowed")


# -- the server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def code_version(repo: Path) -> str:
    """' (commit abc1234[, with uncommitted changes])' for a git checkout, '' otherwise. Read-only git calls."""
    if not (repo / ".git").exists():
        return ""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--", "graph", "resolvers", "storage"],
            capture_output=True,
            timeout=10,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return f" (commit {head}{', with uncommitted changes' if dirty else ''})" if head else ""


def server_module(repo: Path) -> str:
    """The command's module: graph/app/cli.py since the layout by domain, graph/cli.py in older snapshots."""
    for module in ("graph.app.cli", "graph.cli"):
        if (repo / (module.replace(".", "/") + ".py")).exists():
            return module
    raise SystemExit(f"--repo {repo} has neither graph/app/cli.py nor graph/cli.py")


class Server:
    """A running server: spawned here (and stopped on exit) or one given by --url."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url = args.url.rstrip("/")
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: Path | None = None
        self.log_path: Path | None = None
        self.database = args.database or "(the running server's)"
        self._log = None
        self._spy: subprocess.Popen[bytes] | None = None
        self._spy_out = ""

    # context manager -------------------------------------------------------

    def __enter__(self) -> Server:
        if self.args.spawn:
            try:
                self._spawn()
            except BaseException:
                self.__exit__(None, None, None)  # __exit__ does not run when __enter__ fails
                raise
        else:
            check_local(self.url)
            self.wait_healthy(timeout=5.0)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_pyspy()
        if self.proc is not None:
            self._stop()
        if self._log is not None:
            self._log.close()
        if self.tmp is not None:
            if self.args.keep:
                print(f"# kept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # spawn / stop ------------------------------------------------------------

    def _spawn(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lensgraph-bench-"))
        db = self.args.database
        if not db:
            db = f"sqlite:///{self.tmp / 'bench.db'}"  # sqlite:////tmp/... (absolute)
        scheme = urlparse(db).scheme
        if scheme not in ("sqlite", "mongodb", "mongodb+srv"):
            raise SystemExit(f"--database must be sqlite:/// or mongodb://, got {db!r}")
        if scheme.startswith("mongodb"):
            check_local("http://" + (urlparse(db).hostname or "") + "/")
        self.database = db
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable]
        if self.args.cprofile:
            cmd += ["-m", "cProfile", "-o", str(Path(self.args.cprofile).resolve())]
        repo = Path(self.args.repo).resolve()
        cli = server_module(repo)
        cmd += ["-m", cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--database", db]
        if self.args.workers > 1:  # only then: a --repo snapshot from before the flag still runs
            cmd += ["--workers", str(self.args.workers)]
        env = dict(os.environ)
        env.setdefault("LENSGRAPH_LOG_LEVEL", "WARNING")
        if not self.args.rate_limits:
            env["LENSGRAPH_RATE_LIMITS"] = "false"
        env["PYTHONPATH"] = str(repo) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.log_path = self.tmp / "server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        print(f"# server: {shlex.join(cmd)}")
        sys.stdout.flush()
        self.proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.wait_healthy(timeout=self.args.startup_timeout)
        except BaseException:
            self._stop()
            self._dump_log()
            raise
        print(f"# server pid {self.proc.pid} on {self.url}, database {db}, code from {repo}{code_version(repo)}")
        sys.stdout.flush()

    def restart(self) -> None:
        """Stop a spawned server and start a fresh one: after a request that would keep it busy for long."""
        if self.proc is None:
            raise SystemExit(f"the server at {self.url} is busy and was not spawned here: cannot restart it")
        self._stop()
        if self._log is not None:
            self._log.close()
        if self.tmp is not None and not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._spawn()

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"server exited with code {self.proc.returncode} before it was healthy")
            try:
                status, body = http_get(self.url + "/api/health", timeout=1.0)
                if status == 200 and self._all_workers_up():
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise SystemExit(f"server at {self.url} not healthy after {timeout:.0f}s ({last})")

    def _all_workers_up(self) -> bool:
        """With --workers N the first worker answers before the others listen: until N pids answer /readyz (each
        request on a new connection, which the kernel gives to any listening worker)."""
        if self.proc is None or self.args.workers <= 1:
            return True
        pids = set()
        for _ in range(20 * self.args.workers):
            status, body = http_get(self.url + "/readyz", timeout=2.0)
            if status == 200:
                pids.add(json.loads(body).get("pid"))
            if len(pids) >= self.args.workers:
                return True
        return False

    def _stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        # SIGINT: aiohttp shuts down cleanly (and cProfile writes its stats).
        for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            proc.send_signal(sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc.returncode not in (0, -signal.SIGINT, 130):
            print(f"# server exited with code {proc.returncode}")
            self._dump_log()

    def _dump_log(self, lines: int = 40) -> None:
        if self.log_path and self.log_path.exists():
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
            print("# --- server log (tail) ---")
            for line in tail:
                print("#   " + line)

    def pids(self) -> list[int]:
        """The spawned server's process and, with --workers, its live workers (Linux /proc); [] if not spawned."""
        if self.proc is None:
            return []
        pids = [self.proc.pid]
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def memory_mib(self) -> dict[str, float | str]:
        """Resident memory of the largest server process, now (VmRSS) and at its peak so far (VmHWM), in MiB: with
        --workers that is the largest worker (the issue's bound is per worker). "-" where /proc cannot tell."""
        now = peak = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        now = max(now, int(line.split()[1]))
                    elif line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        return {
            "rss_mib": round(now / 1024, 1) if now else "-",
            "peak_rss_mib": round(peak / 1024, 1) if peak else "-",
        }

    def cpu_seconds(self) -> float | None:
        """User+system CPU the spawned server has used so far (Linux /proc), None if unknown; with --workers, the
        parent's and its live workers' together."""
        if self.proc is None:
            return None
        try:
            pids = self.pids()
            ticks = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            return ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def server_log_errors(self) -> list[str]:
        if not self.log_path or not self.log_path.exists():
            return []
        return [ln for ln in self.log_path.read_text(errors="replace").splitlines() if "ERROR" in ln or "Traceback" in ln]

    # py-spy ------------------------------------------------------------------

    def start_pyspy(self, tag: str | None = None) -> None:
        """Sample the server until stop_pyspy; with a tag the output is PATH.TAG."""
        if not self.args.pyspy or self.proc is None:
            return
        out = str(Path(self.args.pyspy).resolve()) + (f".{tag}" if tag else "")
        self._spy_out = out
        cmd = [
            self.args.pyspy_bin, "record", "--pid", str(self.proc.pid), "--format", "raw", "--output", out,
            "--rate", str(self.args.pyspy_rate), "--threads", "--subprocesses",
        ]  # fmt: skip
        cmd += ["--native"] if self.args.pyspy_native else ["--nonblocking"]
        cmd += ["--idle"] if self.args.pyspy_idle else []
        cmd += ["--gil"] if self.args.pyspy_gil else []
        print(f"# py-spy: {shlex.join(cmd)}")
        sys.stdout.flush()
        self._spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)

    def stop_pyspy(self) -> None:
        spy = self._spy
        if spy is None:
            return
        self._spy = None
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=10)
        err = (spy.stderr.read() if spy.stderr else b"").decode(errors="replace").strip()
        if spy.returncode not in (0, None):
            print(f"# py-spy exited {spy.returncode}: {err[-500:]}")
        else:
            print(f"# py-spy wrote {self._spy_out}")


def auth_headers(args: argparse.Namespace) -> dict[str, str]:
    """Every family's way of sending a key: X-API-Key at /, Bearer at /api and on GraphQL."""
    if not args.api_key:
        return {}
    return {"X-API-Key": args.api_key, "Authorization": f"Bearer {args.api_key}"}


RATE_LIMIT_HINT = (
    "HTTP 429: the server's rate limits are on; start it with LENSGRAPH_RATE_LIMITS=false "
    "(--spawn does so unless --rate-limits is given)"
)


# -- numbers --------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default), pct in [0, 100]."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    rank = (len(data) - 1) * pct / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def summarize_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """Latency samples in seconds -> p50/p90/p99/max/mean in milliseconds."""
    ms = [s * 1000.0 for s in samples_s]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "min_ms": round(min(ms), 2),
    }


# -- output ---------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """A plain aligned table: text columns left, numbers right."""
    if not rows:
        return
    columns = list(columns or rows[0].keys())
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    if title:
        print(title)
    print(line(columns))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))
    sys.stdout.flush()


def print_result(result: dict[str, Any]) -> None:
    """One machine-readable line: RESULT {json}."""
    print("RESULT " + json.dumps(result, sort_keys=True, default=str))
    sys.stdout.flush()
