"""The lensgraph command, run as a user would."""

import re
import sqlite3
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
    # Agent traces and a site's visitors, so every report has data on the first run.
    db = sqlite3.connect(tmp_path / "demo.db")
    kinds = dict(db.execute("SELECT kind, COUNT(DISTINCT session_id) FROM events GROUP BY kind").fetchall())
    assert kinds == {"agent": 24, "tracker": 60}
    (signups,) = db.execute("SELECT COUNT(*) FROM events WHERE kind = 'tracker' AND type = 'signup'").fetchone()
    assert signups > 0
    # A week-long A/B test whose visitors were exposed on their first page view.
    (experiment,) = db.execute("SELECT name FROM experiments").fetchone()
    (exposed,) = db.execute("SELECT COUNT(DISTINCT user_id) FROM events WHERE type = '$experiment_exposure' "
                            "AND json_extract(payload, '$.experiment') = ?", (experiment,)).fetchone()
    assert (experiment, exposed > 20) == ("signup-cta", True)
    db.close()


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


def test_version_and_help_document_every_setting() -> None:
    from importlib.metadata import version

    from graph.app.settings import Settings

    shown = run("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"lensgraph {version('lensgraph')}"
    helped = run("serve", "--help")
    assert helped.returncode == 0
    text = re.sub(r"-\s+", "-", " ".join(helped.stdout.split()))  # textwrap breaks lines at hyphens
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        assert flag in text, flag
        assert f"env LENSGRAPH_{name.upper()})" in text, name
        default = "none" if field.default is None else field.default
        assert f"(default: {default};" in text, name


def test_dev_mode_refuses_a_public_address_in_one_line() -> None:
    refused = run("serve", "--host", "0.0.0.0", "--port", "0", "--database", "sqlite:///:memory-never-opened:")
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("lensgraph: refusing to listen on 0.0.0.0 in dev mode")
    assert "Traceback" not in refused.stderr


def test_a_database_from_a_newer_version_exits_2_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    refused = run("serve", "--port", "0", "--database", f"sqlite:///{path}")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("lensgraph: database") and "schema version 99" in line


def test_account_create_prints_its_key_once_and_stores_only_the_hash(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    url = f"sqlite:///{tmp_path}/accounts.db"
    made = run("account", "create", "acme", "--projects-limit", "3", "--database", url)
    assert made.returncode == 0, made.stderr
    (key,) = re.findall(r"lga_[\w-]+", made.stdout)
    assert "acme" in made.stdout and "at most 3 projects" in made.stdout
    db = sqlite3.connect(tmp_path / "accounts.db")
    assert db.execute("SELECT name, tier, projects_limit FROM accounts").fetchall() == [("acme", "self-hosted", 3)]
    assert db.execute("SELECT hash FROM account_keys").fetchall() == [(hashlib.sha256(key.encode()).hexdigest(),)]
    db.close()
    again = run("account", "create", "acme", "--database", url)
    assert again.returncode == 2 and "acme" in again.stderr and "Traceback" not in again.stderr
    bad = run("account", "create", "other", "--projects-limit", "-1", "--database", url)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
