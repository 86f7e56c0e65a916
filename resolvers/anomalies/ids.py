"""Derived ids: the same detection (or report) always has the same id, so writing it twice stores it once.

A detector that crashes after writing some anomalies of a run and runs again computes the same ids for the
same rule and window, and the store's primary key turns the repeat into a no-op.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from storage.timeutil import to_ms


def _digest(*parts: str) -> str:
    # 20 hex characters (80 bits): no collision among any project's anomalies in practice.
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def anomaly_id(project_id: str, rule_id: str, window_start: datetime, window_end: datetime) -> str:
    return "anom_" + _digest(project_id, rule_id, str(to_ms(window_start)), str(to_ms(window_end)))


def report_id(project_id: str, kind: str, period_start: datetime) -> str:
    return "rep_" + _digest(project_id, kind, str(to_ms(period_start)))
