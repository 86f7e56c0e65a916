"""SIGTERM with live clients connected: streams end, the process exits cleanly and soon."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.process.conftest import Spawn


async def test_sigterm_with_live_clients_ends_their_streams_and_exits_cleanly(spawn: Spawn) -> None:
    server = await spawn()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        sse = await http.get(f"{server.url}/stream")
        assert sse.status == 200
        ws = await http.ws_connect(f"{server.url}/graphql", protocols=["graphql-transport-ws"])
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "subscription { eventAdded { id } }"}})
        await asyncio.sleep(0.3)

        seconds = await server.terminate(timeout=30)

        rest = await asyncio.wait_for(sse.content.read(), 5)  # the stream ended: EOF, not a hang
        assert b"Internal" not in rest
        closing = await asyncio.wait_for(ws.receive(), 5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await ws.close()
    print(f"SIGTERM to exit with an SSE client and a websocket subscription: {seconds:.2f} s")
    assert server.proc.returncode == 0
    assert "Traceback" not in server.log
    assert "stopped" in server.log


async def test_a_startup_failure_is_one_line_and_exit_2(spawn: Spawn) -> None:
    server = await spawn()
    import subprocess
    import sys

    taken = subprocess.run(
        [sys.executable, "-m", "graph.app.cli", "serve", "--port", str(server.port), "--database",
         "sqlite:///" + str(server.log_path.parent / "other.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert taken.returncode == 2
    assert taken.stderr.strip().splitlines()[-1].startswith("lensgraph: cannot listen on 127.0.0.1:")
    assert "Traceback" not in taken.stderr and "listening on" not in taken.stderr
    bad_url = subprocess.run(
        [sys.executable, "-m", "graph.app.cli", "serve", "--database", "postgres://db/x"],
        capture_output=True, text=True, timeout=60,
    )
    assert bad_url.returncode == 2
    assert bad_url.stderr.strip() == (
        "lensgraph: unsupported database URL 'postgres://db/x': use sqlite:///path/to/file.db or mongodb://host/db"
    )


async def subscribers(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/readyz") as r:
        assert r.status == 200
        return int((await r.json())["live_subscribers"])


async def wait_for_subscribers(http: aiohttp.ClientSession, url: str, count: int) -> None:
    for _ in range(250):  # a hang guard, not a timing assertion
        if await subscribers(http, url) == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"live_subscribers never reached {count}: {await subscribers(http, url)}")


async def test_clients_that_go_away_leave_the_bus_without_waiting_for_an_event(spawn: Spawn) -> None:
    # A long heartbeat: leaving must not depend on the next keep-alive write failing either.
    server = await spawn(None, "--sse-heartbeat-seconds", "600")
    async with aiohttp.ClientSession() as http:
        assert await subscribers(http, server.url) == 0
        async with aiohttp.ClientSession() as client:
            sse = await client.get(f"{server.url}/stream")
            ws = await client.ws_connect(f"{server.url}/graphql", protocols=["graphql-transport-ws"])
            await ws.send_json({"type": "connection_init", "payload": {}})
            await ws.receive_json()
            subscribe = {"query": "subscription { eventAdded { id } }"}
            await ws.send_json({"id": "1", "type": "subscribe", "payload": subscribe})
            await wait_for_subscribers(http, server.url, 2)
            sse.close()  # drop the connection, as a closed browser tab does
        await wait_for_subscribers(http, server.url, 0)  # the websocket went with the client session


async def test_the_access_log_is_on_by_default_and_off_with_its_setting(spawn: Spawn) -> None:
    logged, quiet = await spawn(), await spawn(None, "--no-access-log")
    async with aiohttp.ClientSession() as http:
        for server in (logged, quiet):
            async with http.get(f"{server.url}/healthz") as r:
                assert r.status == 200
    await logged.terminate()
    await quiet.terminate()
    assert '"GET /healthz HTTP/1.1" 200' in logged.log
    assert "aiohttp.access" not in quiet.log and "GET /healthz" not in quiet.log
    # The banner came after the port was bound, and says how callers authenticate.
    assert logged.log.index("DEV MODE") < logged.log.index("listening on")
