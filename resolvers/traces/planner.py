"""What one ingest batch does to the sessions it touches: a pure function.

The store calls plan_batch inside its transaction with the sessions as they
are now, so counters, lifecycle and the hash chain are computed from
committed state, whichever backend and however many writers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resolvers.core.auth import Forbidden
from resolvers.core.bounds import saturating_add
from resolvers.traces.chain import event_hash
from storage.contract import BatchPlan
from storage.models import Agent, Event, Session, SessionStatus

START_TYPES = frozenset({"session_start", "session_started"})
END_TYPES = frozenset({"session_end", "session_ended"})
ERROR_TYPES = frozenset({"tool_error", "error"})
ERROR_SEVERITIES = frozenset({"error", "critical"})


@dataclass(slots=True)
class Lifecycle:
    """What a start or end event says about its session beyond the event itself."""

    agent_name: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    end_status: SessionStatus | None = None
    final_tokens_in: int | None = None
    final_tokens_out: int | None = None


@dataclass(slots=True)
class BatchPlanner:
    """Callable handed to Store.commit_batch; hints are keyed by event id."""

    project_id: str
    hints: dict[str, Lifecycle] = field(default_factory=dict)
    kind: str = "agent"  # "tracker": a public tracker token's write, confined to tracker sessions

    def __call__(self, current: Mapping[str, Session], events: list[Event]) -> BatchPlan:
        sessions: dict[str, Session] = {}
        agents: dict[str, Agent] = {}
        sealed: list[Event] = []
        for event in events:
            session = sessions.get(event.session_id)
            if session is None:
                existing = current.get(event.session_id)
                if existing is not None:
                    # A shallow copy with fresh containers: deep-copying every touched
                    # session showed up in ingest profiles.
                    session = existing.model_copy(
                        update={"metadata": dict(existing.metadata), "tags": list(existing.tags)}
                    )
                    if self.kind == "tracker" and existing.kind != "tracker":
                        # Inside the transaction: the whole batch is refused and nothing is stored.
                        raise Forbidden(
                            f"session {event.session_id!r} is an agent trace; a tracker token writes only its own "
                            "visitors' sessions"
                        )
                else:
                    session = Session(
                        project_id=self.project_id, id=event.session_id, started_at=event.timestamp, kind=self.kind
                    )
                sessions[event.session_id] = session
            hint = self.hints.get(event.id)
            self._apply(session, event, hint)
            # Events reach the planner unsealed and unshared, so they are completed in place.
            if event.agent_id is None and session.agent_id is not None:
                event.agent_id = session.agent_id
            seq = session.chain_seq + 1
            event.seq, event.prev_hash = seq, session.chain_head
            event.hash = event_hash(event, session.chain_head)
            session.chain_seq, session.chain_head = seq, event.hash
            sealed.append(event)
            if session.agent_id:
                self._seen(agents, session.agent_id, session, event)
        return BatchPlan(events=sealed, sessions=list(sessions.values()), agents=list(agents.values()))

    @staticmethod
    def _apply(session: Session, event: Event, hint: Lifecycle | None) -> None:
        if event.agent_id and not session.agent_id:
            session.agent_id = event.agent_id
        if event.user_id and not session.user_id:
            session.user_id = event.user_id
        if event.path is not None:  # a page seen: the session's entry and exit pages, by event time
            if session.entry_path is None or event.timestamp < session.started_at:
                session.entry_path = event.path
            if session.exit_path is None or session.last_event_at is None or event.timestamp >= session.last_event_at:
                session.exit_path = event.path
        session.started_at = min(session.started_at, event.timestamp)
        if session.last_event_at is None or event.timestamp > session.last_event_at:
            session.last_event_at = event.timestamp
        session.event_count += 1
        if event.type == "tool_call":
            session.tool_call_count += 1
        elif event.type == "llm_call":
            session.llm_call_count += 1
        if event.type in ERROR_TYPES or event.severity in ERROR_SEVERITIES:
            session.error_count += 1
        session.tokens_in = saturating_add(session.tokens_in, event.tokens_in or 0)
        session.tokens_out = saturating_add(session.tokens_out, event.tokens_out or 0)
        session.cost_nanos = saturating_add(session.cost_nanos, event.cost_nanos or 0)
        session.processing_ms += event.duration_ms or 0.0

        if event.type in START_TYPES:
            session.started_at = event.timestamp
            if hint is not None:
                if hint.agent_name:
                    session.agent_name = hint.agent_name
                if hint.metadata:
                    session.metadata = {**session.metadata, **hint.metadata}
                if hint.tags is not None:
                    session.tags = list(dict.fromkeys([*session.tags, *hint.tags]))
            if session.agent_id is None and session.agent_name:
                session.agent_id = session.agent_name
        elif event.type in END_TYPES:
            session.ended_at = event.timestamp
            session.status = (hint.end_status if hint else None) or SessionStatus.COMPLETED
            if hint is not None:
                if hint.final_tokens_in is not None:
                    session.tokens_in = hint.final_tokens_in
                if hint.final_tokens_out is not None:
                    session.tokens_out = hint.final_tokens_out
        if session.agent_name is None and hint is not None and hint.agent_name:
            session.agent_name = hint.agent_name

    def _seen(self, agents: dict[str, Agent], agent_id: str, session: Session, event: Event) -> None:
        agent = agents.get(agent_id)
        if agent is None:
            agents[agent_id] = Agent.model_construct(
                project_id=self.project_id,
                id=agent_id,
                name=session.agent_name,
                first_seen=event.timestamp,
                last_seen=event.timestamp,
            )
        else:
            agent.name = session.agent_name or agent.name
            agent.first_seen = min(agent.first_seen, event.timestamp)
            agent.last_seen = max(agent.last_seen, event.timestamp)
