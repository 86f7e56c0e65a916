"""Who holds a database file (`<file>.lock`), and whose turn it is to write it (`<file>.write-lock`).

Every server process takes a shared lock on `<file>.lock` while it runs.

Several servers share one file (each holds the lock shared); a restore needs it
exclusively, so it cannot replace a database under a running server. The
operating system drops the lock when a process dies, kill -9 included.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
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


# How often a writer looks again while another process holds the write turn: short next to a transaction
# (a group of batches takes milliseconds), and each look is one system call.
TURN_POLL_S = 0.0001


class WriteTurn:
    """Whose turn it is to write, among the processes on one file: an exclusive flock on `<file>.write-lock`,
    held from BEGIN IMMEDIATE to COMMIT.

    SQLite's own lock makes writers take turns too, but a writer that finds it taken sleeps in its busy
    handler for 1, 2, 5, 10, 15, 20, 25... ms before each new try, however soon the lock is free. Under
    `serve --workers 2` that made ingest's p99 7 to 20 times its p50 (bench/README.md, "Two workers on one
    file"). Taking this turn first, a writer waits only while the other actually writes; SQLite's lock is
    then free (another program on the file still meets SQLite's busy timeout, as before).
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".write-lock")
        self._fd: int | None = None
        self._tried = False

    def _open(self) -> int | None:
        if not self._tried:
            self._tried = True
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:  # best effort: SQLite's own lock still orders the writes
                log.warning("cannot create %s (%s): writers of this file take turns by SQLite's lock alone",
                            self.path, exc.strerror or exc)
        return self._fd

    def acquire(self, timeout_s: float) -> bool:
        """Wait for the turn, on the writer thread (the GIL is free while it sleeps). False when there is no
        lock file to take turns on; TimeoutError when another process kept the turn past timeout_s, which is
        what SQLite's busy timeout would have said of its own lock."""
        fd = self._open()
        if fd is None:
            return False
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"another process kept the write turn on {self.path}") from None
                time.sleep(TURN_POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._tried = False
