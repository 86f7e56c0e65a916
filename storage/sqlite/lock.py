"""Who holds a database file: every server process takes a shared lock on `<file>.lock` while it runs.

Several servers share one file (each holds the lock shared); a restore needs it
exclusively, so it cannot replace a database under a running server. The
operating system drops the lock when a process dies, kill -9 included.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("storage.sqlite")


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class ServerLock:
    def __init__(self, database: Path) -> None:
        self.path = lock_path(database)
        self._fd: int | None = None

    def acquire_shared(self) -> None:
        """Best effort: a lock file that cannot be made (a full disk, a read-only directory) must not keep the
        server from serving reads; it only leaves restore unguarded, and the log says so."""
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            log.warning("cannot create %s (%s): lensgraph restore cannot tell this server is running", self.path,
                        exc.strerror or exc)
            return
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def in_use(database: Path) -> bool:
    """Whether a server holds the database now."""
    path = lock_path(database)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
