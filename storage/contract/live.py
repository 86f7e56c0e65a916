"""The live contract: every commit of every process sharing the database, in commit order.

A backend's feed is how a LensGraph process learns of commits made by the
others (SQLite: tailing the events table by commit position; MongoDB: a change
stream). The live bus fans out what the feed yields; it never needs to know
which backend it runs on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from storage.models import Event, Session


@dataclass(slots=True)
class Change:
    """What one commit (or several, coalesced) made visible to one project."""

    project_id: str
    events: list[Event] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)


# The projects whose changes anyone in this process listens to, asked each time the feed reads.
Followed = Callable[[], Collection[str]]


class ChangeFeed(Protocol):
    @property
    def shared(self) -> bool:
        """Whether the feed sees other processes' commits; False means this process alone publishes."""
        ...

    def follow(self, ready: asyncio.Event, followed: Followed | None = None) -> AsyncIterator[Change]:
        """Changes committed from now on, in commit order; sets ready once nothing later can be missed.

        followed, when given, names the projects anyone listens to now; the feed may leave out the others'
        changes (not read them at all). A project that gains a listener must get every change committed after
        that, so a feed asks for the set after it has learned how far the file or stream goes."""
        ...

    def committed(self, project_id: str, events: Sequence[Event], sessions: Sequence[Session]) -> None:
        """This process just committed these: a hint that lets the feed deliver them without a read."""
        ...
