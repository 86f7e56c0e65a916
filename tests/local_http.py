"""A one-route aiohttp server on 127.0.0.1 for tests to point LensGraph at (a webhook receiver, a model)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web


class LocalHttp:
    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None

    async def serve(self, path: str, handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
                    port: int = 0) -> int:
        """Starts serving POST path; the port it listens on (port 0: any free one)."""
        app = web.Application()
        app.router.add_post(path, handle)
        # A client that goes away (a killed server) cancels its request; stopping waits for nothing long.
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
