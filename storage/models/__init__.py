"""Documents as stored, one module per domain. Every document carries project_id
(but accounts and their keys, which sit above projects)."""

from storage.models.experiments import Experiment, ExperimentStatus, Variant
from storage.models.idempotency import IdempotentResponse
from storage.models.money import NANOS_PER_USD, nanos_to_usd
from storage.models.projects import Account, AccountKey, ApiKey, Project
from storage.models.revenue import Customer, Goal, GoalType, Outcome, Revenue, RevenueRecord
from storage.models.traces import Agent, Event, Session, SessionStatus

__all__ = [
    "NANOS_PER_USD", "Account", "AccountKey", "Agent", "ApiKey", "Customer", "Event", "Experiment", "ExperimentStatus",
    "Goal", "GoalType", "IdempotentResponse", "Outcome", "Project", "Revenue", "RevenueRecord", "Session",
    "SessionStatus", "Variant", "nanos_to_usd",
]
