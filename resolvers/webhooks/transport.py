"""What the sender needs of HTTP: one POST. The server's implementation (graph/app/webhooks.py, on aiohttp)
is injected, since nothing below the API surface knows the web framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class DeliveryError(Exception):
    """No HTTP answer: refused, timed out, a forbidden address, a broken connection. The message is recorded."""


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POSTs the body; returns the answer's status code (redirects are not followed). Raises DeliveryError
        when there is no answer."""
        ...
