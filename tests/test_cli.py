"""The lensgraph command, run as a user would."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graph.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_demo_loads_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    first = run("demo", "--database", url)
    assert first.returncode == 0, first.stderr
    assert "events loaded" in first.stdout
    again = run("demo", "--database", url)
    assert "already present" in again.stdout


def test_bad_settings_and_unreachable_databases_fail_in_one_line(tmp_path: Path) -> None:
    bad = run("serve", "--port", "0", env={"LENSGRAPH_API_KEY": "short"})
    assert bad.returncode == 2
    assert "LENSGRAPH_API_KEY" in bad.stderr and "Traceback" not in bad.stderr
    gone = run("demo", "--database", "mongodb://user:hunter2@127.0.0.1:1/x?serverSelectionTimeoutMS=300")
    assert gone.returncode == 1
    assert "127.0.0.1:1" in gone.stderr and "hunter2" not in gone.stderr and "Traceback" not in gone.stderr


def test_schema_is_printed(tmp_path: Path) -> None:
    out = run("schema")
    assert out.returncode == 0 and "type Query" in out.stdout
