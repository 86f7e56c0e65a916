"""Idempotency-Key semantics, shared by every creating route and mutation.

A request repeated with the same key gets the first answer back and stores
nothing new; the same key with a different request is refused. The key is
checked and recorded inside the transaction of the work it guards (a Claim
handed to the store), so two processes given the same key at once apply it
once, and a retry after a crash between commit and answer replays the answer
instead of applying the work again. A rejected request records nothing, so it
can be corrected and retried under the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from pydantic import Field

from resolvers.core.errors import InputError, Problem
from storage.contract import Claim, CommitResult, Conflict
from storage.timeutil import now_ms

HEADER = "Idempotency-Key"
MAX_KEY = 255
# The key as documented: printable ASCII, which every client sends (check_key takes any printable text).
KeyHeader = Annotated[str, Field(pattern=f"^[\\x20-\\x7e]{{1,{MAX_KEY}}}$")]

R = TypeVar("R")
# (result of the guarded write) -> (status, body, content type) remembered for the key
Answer = Callable[[R], tuple[int, bytes, str]]


def fingerprint(*parts: bytes) -> str:
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


def new_claim(
    project_id: str, key: str, request_fingerprint: str, window_seconds: float, answer: Answer[R]
) -> Claim[R]:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InputError(Problem(HEADER, f"must be 1 to {MAX_KEY} printable characters"))
    now = now_ms()
    return Claim(project_id, key, request_fingerprint, now, now + timedelta(seconds=window_seconds), answer)


def check_replay(result: CommitResult, claim: Claim[Any] | None) -> CommitResult:
    """A replayed answer stands only for the request it answered first."""
    if claim is None or not result.replayed or result.response is None:
        return result
    if result.response.fingerprint != claim.fingerprint:
        raise Conflict(f"{HEADER} {claim.key!r} was already used with a different request")
    return result
