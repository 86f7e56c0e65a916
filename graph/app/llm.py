"""The assistant's language model HTTP: aiohttp, injected into resolvers/assistant/llm.py as its ChatTransport.

The provider's base URL is the operator's own setting (a hosted API or a model on the local network), so no
address is refused; redirects are not followed, proxies from the environment are not used, the answer read is
bounded, and each request is bounded by the timeout. Failures are raised without the request's headers, which
carry the key.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from resolvers.assistant.llm import LlmUnavailable

MAX_ANSWER_BYTES = 1024 * 1024


class LlmHttp:
    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20), timeout=self.timeout,
                                                  trust_env=False)
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        try:
            async with self._client().post(url, data=body, headers=dict(headers), allow_redirects=False) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                if len(raw) > MAX_ANSWER_BYTES:
                    raise LlmUnavailable(f"answer larger than {MAX_ANSWER_BYTES} bytes")
                return resp.status, raw
        except TimeoutError:
            raise LlmUnavailable(f"no answer within {self.timeout.total:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise LlmUnavailable(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

