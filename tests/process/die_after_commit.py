"""Runs `lensgraph serve` whose revenue store kills its own process (SIGKILL) right after a create commits,
before any answer is written: the crash between commit and answer, made on purpose for the crash drill.

Usage (as ServerProcess's wrapper): python tests/process/die_after_commit.py <python> -m graph.app.cli serve ...
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from graph.app.cli import main
from storage.sqlite.revenue import SQLiteRevenue

committed = SQLiteRevenue.create_record


async def create_then_die(self: SQLiteRevenue, record: Any, claim: Any = None) -> Any:
    await committed(self, record, claim)
    os.kill(os.getpid(), signal.SIGKILL)  # the record and its claim are on disk; the client hears nothing


SQLiteRevenue.create_record = create_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[sys.argv.index("serve"):]))
