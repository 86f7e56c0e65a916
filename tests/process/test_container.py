"""The Dockerfile, checked by what can run here: its environment and HEALTHCHECK against a real server.

Base images cannot be pulled on this machine, so nothing is built; the image's
install step is the same `pip install .` that made the test environment.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.process.conftest import Spawn

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in instructions("ENV"):
        for item in shlex.split(line):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def test_the_image_installs_the_package_as_the_tests_do_and_runs_unprivileged() -> None:
    (run,) = instructions("RUN")
    assert run.startswith("pip install . ")
    assert instructions("USER") == ["lensgraph"]
    assert json.loads(instructions("VOLUME")[0]) == ["/data"]
    assert image_env()["LENSGRAPH_DATABASE_URL"] == "sqlite:////data/lensgraph.db"
    assert json.loads(instructions("ENTRYPOINT")[0]) == ["lensgraph"]


async def test_the_images_settings_refuse_dev_mode_and_its_healthcheck_passes_with_a_key(
    spawn: Spawn, tmp_path: Path
) -> None:
    env = {k: v for k, v in image_env().items() if k.startswith("LENSGRAPH_")}
    env["LENSGRAPH_DATABASE_URL"] = f"sqlite:///{tmp_path}/image.db"
    env["LENSGRAPH_HOST"] = "0.0.0.0"
    refused = subprocess.run([sys.executable, "-m", "graph.app.cli", "serve"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert refused.returncode == 2 and "dev mode" in refused.stderr
    server = await spawn(env["LENSGRAPH_DATABASE_URL"], LENSGRAPH_API_KEY="an-admin-key-for-the-image-test")
    healthcheck = json.loads(instructions("HEALTHCHECK")[0].split("CMD ", 1)[1])
    command = [arg.replace("127.0.0.1:3000", f"127.0.0.1:{server.port}") for arg in healthcheck]
    command[0] = sys.executable
    assert subprocess.run(command, timeout=30).returncode == 0
