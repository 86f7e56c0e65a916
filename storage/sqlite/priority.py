"""The write side's threads run at a lower CPU priority than the threads that answer requests.

The writer, the checkpointer and the search-index follower share two cores with the event loop and the
readers. Under ingest they are busy, and a read that overlaps a write group used to wait for the CPU: at
2,000 events/s of background ingest the events page's p99 was 3.3-3.9x its p50. With these threads 10 nice
levels down, the event loop and the readers run first when all want a core. Reads' p99 then fell by about a
fifth, and one-event ingest's p99 fell too, while batch ingest kept its throughput. When reads alone fill the
CPU, ingest slows more than before (bench/README.md, "Reads before writes").
`LENSGRAPH_SQLITE_WRITE_NICE=0` keeps every thread at the process's priority.

Linux gives each thread its own nice value, and setpriority(2) on a thread id changes only that thread.
Raising one's own nice value needs no privilege. Other systems keep one value per process, so this leaves
them alone.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("storage.sqlite")

WRITE_NICE = 10  # the default: nice levels below the process for the writer, checkpointer and follower
MAX_NICE = 19


def lower_this_thread(by: int) -> None:
    """Called on the thread itself, first thing. by: nice levels to add (0: none); at most 19 in all."""
    if by <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + by, MAX_NICE))
    except OSError as exc:  # a sandbox that forbids it: the thread runs at the process's priority
        log.debug("cannot lower the priority of thread %s (%s)", threading.current_thread().name, exc)
