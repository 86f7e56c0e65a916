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
_EVENT_SEALED = ("agent_id", "seq", "prev_hash", "hash")
_SESSION_PLANNED = tuple(Session.model_fields)


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
        # Each batch's sessions and events are its own (fresh copies, unsealed events), so their fields are
        # set in the models' __dict__: pydantic's __setattr__ cost more than the rest of planning (no model
        # here validates assignments). Every field set is marked set once a model is done.
        for event in events:
            ev = event.__dict__
            session_id = ev["session_id"]
            session = sessions.get(session_id)
            if session is None:
                existing = current.get(session_id)
                if existing is not None:
                    # A shallow copy with fresh containers: deep-copying every touched
                    # session showed up in ingest profiles.
                    session = existing.model_copy(
                        update={"metadata": dict(existing.metadata), "tags": list(existing.tags)}
                    )
                    if self.kind == "tracker" and existing.kind != "tracker":
                        # Inside the transaction: the whole batch is refused and nothing is stored.
                        raise Forbidden(
                            f"session {session_id!r} is an agent trace; a tracker token writes only its own "
                            "visitors' sessions"
                        )
                else:
                    session = Session(
                        project_id=self.project_id, id=session_id, started_at=ev["timestamp"], kind=self.kind
                    )
                sessions[session_id] = session
            hint = self.hints.get(ev["id"]) if self.hints else None
            sd = session.__dict__
            self._apply(sd, ev, hint)
            # Events reach the planner unsealed and unshared, so they are completed in place.
            if ev["agent_id"] is None and sd["agent_id"] is not None:
                ev["agent_id"] = sd["agent_id"]
            head = sd["chain_head"]
            seq = sd["chain_seq"] + 1
            ev["seq"], ev["prev_hash"] = seq, head
            ev["hash"] = digest = event_hash(event, head)
            sd["chain_seq"], sd["chain_head"] = seq, digest
            event.__pydantic_fields_set__.update(_EVENT_SEALED)
            sealed.append(event)
            if sd["agent_id"]:
                self._seen(agents, sd["agent_id"], sd, ev)
        for session in sessions.values():
            session.__pydantic_fields_set__.update(_SESSION_PLANNED)
        return BatchPlan(events=sealed, sessions=list(sessions.values()), agents=list(agents.values()))

    @staticmethod
    def _apply(session: dict[str, Any], event: dict[str, Any], hint: Lifecycle | None) -> None:
        """BatchPlanner's counters, on the session's and the event's __dict__."""
        timestamp = event["timestamp"]
        type_ = event["type"]
        if event["agent_id"] and not session["agent_id"]:
            session["agent_id"] = event["agent_id"]
        if event["user_id"] and not session["user_id"]:
            session["user_id"] = event["user_id"]
        path = event["path"]
        if path is not None:  # a page seen: the session's entry and exit pages, by event time
            if session["entry_path"] is None or timestamp < session["started_at"]:
                session["entry_path"] = path
            last = session["last_event_at"]
            if session["exit_path"] is None or last is None or timestamp >= last:
                session["exit_path"] = path
        if timestamp < session["started_at"]:
            session["started_at"] = timestamp
        last = session["last_event_at"]
        if last is None or timestamp > last:
            session["last_event_at"] = timestamp
        session["event_count"] += 1
        if type_ == "tool_call":
            session["tool_call_count"] += 1
        elif type_ == "llm_call":
            session["llm_call_count"] += 1
        if type_ in ERROR_TYPES or event["severity"] in ERROR_SEVERITIES:
            session["error_count"] += 1
        if event["tokens_in"]:
            session["tokens_in"] = saturating_add(session["tokens_in"], event["tokens_in"])
        if event["tokens_out"]:
            session["tokens_out"] = saturating_add(session["tokens_out"], event["tokens_out"])
        if event["cost_nanos"]:
            session["cost_nanos"] = saturating_add(session["cost_nanos"], event["cost_nanos"])
        session["processing_ms"] += event["duration_ms"] or 0.0

        if type_ in START_TYPES:
            session["started_at"] = timestamp
            if hint is not None:
                if hint.agent_name:
                    session["agent_name"] = hint.agent_name
                if hint.metadata:
                    session["metadata"] = {**session["metadata"], **hint.metadata}
                if hint.tags is not None:
                    session["tags"] = list(dict.fromkeys([*session["tags"], *hint.tags]))
            if session["agent_id"] is None and session["agent_name"]:
                session["agent_id"] = session["agent_name"]
        elif type_ in END_TYPES:
            session["ended_at"] = timestamp
            session["status"] = (hint.end_status if hint else None) or SessionStatus.COMPLETED
            if hint is not None:
                if hint.final_tokens_in is not None:
                    session["tokens_in"] = hint.final_tokens_in
                if hint.final_tokens_out is not None:
                    session["tokens_out"] = hint.final_tokens_out
        if session["agent_name"] is None and hint is not None and hint.agent_name:
            session["agent_name"] = hint.agent_name

    def _seen(self, agents: dict[str, Agent], agent_id: str, session: dict[str, Any], event: dict[str, Any]) -> None:
        agent = agents.get(agent_id)
        timestamp = event["timestamp"]
        if agent is None:
            agents[agent_id] = Agent.model_construct(
                project_id=self.project_id,
                id=agent_id,
                name=session["agent_name"],
                first_seen=timestamp,
                last_seen=timestamp,
            )
        else:
            ad = agent.__dict__
            ad["name"] = session["agent_name"] or ad["name"]
            if timestamp < ad["first_seen"]:
                ad["first_seen"] = timestamp
            if timestamp > ad["last_seen"]:
                ad["last_seen"] = timestamp
