"""Delivery signatures: `X-LensGraph-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256(secret, f"{t}.{body}") over the exact body bytes. A receiver recomputes it with its endpoint's
secret, compares in constant time, and refuses timestamps too far from its clock (replays)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE = "X-LensGraph-Signature"
EVENT = "X-LensGraph-Event"  # anomaly.detected...
EVENT_ID = "X-LensGraph-Event-Id"  # the same on every delivery and retry of one event: de-duplicate on it
DELIVERY = "X-LensGraph-Delivery"  # one endpoint's delivery of the event
ATTEMPT = "X-LensGraph-Attempt"  # 1 for the first try
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-LensGraph-Signature header's value."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = TOLERANCE_S, now: float | None = None) -> bool:
    """What a receiver does: whether the header signs this body with this secret, recently enough."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, t, body))
