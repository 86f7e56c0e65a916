"""The webhook sender's HTTP: aiohttp, injected into resolvers/jobs/webhooks.py as its Transport.

Every address connected to is checked (resolvers/webhooks/targets.py) unless private targets are allowed: host
names through a resolver that drops refused addresses (so a name re-pointed at a private address after the
endpoint was created, DNS rebinding, reaches nothing), and literal addresses before the request. Redirects
are not followed (a 3xx is a failed attempt), proxies from the environment are not used, and each request is
bounded by the timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from resolvers.webhooks.targets import literal_ip, refused_address
from resolvers.webhooks.transport import DeliveryError


class GuardedResolver(AbstractResolver):
    """The default resolver, less the addresses webhooks may not reach; none left is a connection error."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if refused_address(r["host"]) is None]
        if not allowed:
            refused = ", ".join(sorted({r["host"] for r in found}))
            raise OSError(f"{host} resolves only to addresses webhooks may not reach ({refused})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class HttpTransport:
    def __init__(self, timeout_seconds: float, allow_private: bool) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=None if self.allow_private else GuardedResolver(), limit=50)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trust_env=False,
                                                  auto_decompress=False)
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        if not self.allow_private:
            host = URL(url).host or ""
            ip = literal_ip(host)
            reason = refused_address(ip) if ip is not None else None
            if reason:
                raise DeliveryError(f"{host} is {reason}: not allowed")
        try:
            async with self._client().post(url, data=body, headers=dict(headers), allow_redirects=False) as resp:
                await resp.content.read(64 * 1024)  # a little of the answer, so the connection may be reused
                return resp.status
        except TimeoutError:
            raise DeliveryError(f"no answer within {self.timeout.total:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
