"""Hostile GraphQL documents: how long the server takes to answer each, worst cases of the query limits.

    .venv/bin/python bench/query_limits.py --spawn                       # temp SQLite, this tree
    .venv/bin/python bench/query_limits.py --spawn --repo /tmp/before    # the same cases, another source tree

Each case is one document built to make some step before execution (parsing, our
limits, graphql-core's validation) or execution itself do as much work as a
client can make it do within the server's limits: doubling fragments, wide
alias and same-name queries, nesting up to and past the depth limit, many and
chained fragments, long literals and comments, many directives and variables,
plus a few legitimate queries for comparison.

Every run sends a distinct document (its operation is renamed), so that the
server's parse and validation caches never answer for it: an attacker varies
the text too. A case's time is the median of --repeat runs after --warmup, from
sending the POST to having read the whole answer. A case stops after a run
slower than half of --give-up seconds. A run that gets no answer within
--give-up seconds ends its case, the spawned server is restarted (it would stay
busy), and the larger cases of the same family (say, doubling fragments at 10,
15, 20, 30 and 60 levels) are reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import orjson
from common import (
    RATE_LIMIT_HINT,
    Server,
    add_server_args,
    auth_headers,
    print_header,
    print_result,
    print_table,
)

JSON_HEADERS = {"Content-Type": "application/json"}
OP = "query OPNAME"  # replaced by a name unique to each run


@dataclass
class Case:
    family: str
    name: str
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    runs: int | None = None  # instead of --repeat, without warm-up


def doubling(levels: int, leaf: str = "sessions { totalCount }") -> str:
    """Each fragment spreads the previous one twice: 2**levels copies of the leaf once expanded."""
    parts = [f"{OP} {{ ...F{levels} }}", f"fragment F0 on Query {{ {leaf} }}"]
    parts += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(parts)


def nested(depth: int) -> str:
    """sessions(first: 1) { nodes { agent { sessions(first: 1) ... } } }: a leaf with `depth` fields above it.

    That is the depth the limit counts: 12 is allowed by default, 13 is not.
    """
    cycle = ("sessions(first: 1)", "nodes", "agent")
    names = [cycle[i % 3] for i in range(depth)]
    leaf = {"sessions(first: 1)": "totalCount", "nodes": "id", "agent": "id"}[names[-1]]
    return OP + " { " + " { ".join(names) + " { " + leaf + " }" * depth + " }"


def many_fragments(n: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(n))
    defs = "\n".join(f"fragment F{i} on Query {{ sessions {{ totalCount }} }}" for i in range(n))
    return f"{OP} {{ {spreads} }}\n{defs}"


def fragment_chain(n: int) -> str:
    defs = ["fragment F0 on Query { sessions { totalCount } }"]
    defs += [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, n)]
    return f"{OP} {{ ...F{n - 1} }}\n" + "\n".join(defs)


TRACE = (
    OP
    + """($first: Int) {
  sessions(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...S } }
  agents { nodes { id name sessions(first: 2) { nodes { ...S } } } }
}
fragment S on Session {
  id status agentName durationMs eventCount errorCount tokensIn tokensOut costUsd metadata
  agent { id name }
  events(first: 20) {
    totalCount nodes { id type severity timestamp payload sequence hash session { id } parent { id } }
  }
}"""
)

INTROSPECTION_DEEP = OP + " { __schema { types { name fields { name type { name fields { name type { name } } } } } } }"

MB = 1024 * 1024


def cases() -> list[Case]:
    big = 4 * MB  # under the default 5 MB body limit, with room for the JSON around it
    return [
        # Fragment bombs: a few hundred bytes, exponential once expanded.
        Case("doubling-accepted", "doubling fragments, 9 levels (within the limits)", doubling(9)),
        *(Case("doubling", f"doubling fragments, {n} levels", doubling(n)) for n in (10, 15, 20, 30, 60)),
        Case("doubling-typename", "doubling __typename, 20 levels", doubling(20, "__typename")),
        Case("doubling-typename", "doubling __typename, 60 levels", doubling(60, "__typename")),
        # Wide: many fields in one selection set (the token limit, 4000, bounds how many).
        Case(
            "aliases",
            "30 aliases (the limit)",
            OP + " { " + " ".join(f"a{i}: sessions {{ totalCount }}" for i in range(30)) + " }",
        ),
        Case(
            "aliases",
            "600 aliases",
            OP + " { " + " ".join(f"a{i}: sessions {{ totalCount }}" for i in range(600)) + " }",
        ),
        Case("same-name", "sessions { totalCount } x 990", OP + " { " + "sessions { totalCount } " * 990 + "}"),
        Case(
            "same-name",
            "sessions { nodes { agent { id } } } x 330 (cost 49830)",
            OP + " { " + "sessions { nodes { agent { id } } } " * 330 + "}",
        ),
        Case("same-name", "totalCount x 3990 in one selection", OP + " { sessions { " + "totalCount " * 3990 + "} }"),
        Case("many-fragments", "330 fragments spread side by side", many_fragments(330)),
        Case("fragment-chain", "chain of 495 fragments", fragment_chain(495)),
        # Deep.
        Case("depth", "nesting at the depth limit (12)", nested(12)),
        Case("depth", "nesting one past the depth limit (13)", nested(13)),
        Case("depth", "nesting of 190 levels", nested(190)),
        Case("introspection", "introspection, types.fields.type.fields", INTROSPECTION_DEEP),
        # Big text: the token limit counts tokens, not bytes.
        Case("bytes", "4 MB string literal", OP + ' { events(filter: {search: "' + "x" * big + '"}) { totalCount } }'),
        Case("bytes", "4 MB comment", OP + " { sessions { totalCount } }\n#" + "x" * big),
        Case("bytes", "4 MB of commas", OP + " { sessions { totalCount } " + "," * big + "}"),
        # Many errors.
        Case(
            "errors",
            "560 @include directives on one field",
            OP + " { sessions " + "@include(if: true) " * 560 + "{ totalCount } }",
        ),
        Case(
            "errors",
            "990 unused variables",
            OP + "(" + " ".join(f"$v{i}: Int" for i in range(990)) + ") { sessions { totalCount } }",
        ),
        # Many distinct documents near the token limit, one after another: what the
        # parse and validation caches keep of them, the garbage collector walks.
        Case(
            "stream",
            "600 distinct documents of 4000 tokens",
            OP + " { sessions { " + "totalCount " * 1990 + "} }",
            runs=600,
        ),
        # Legitimate queries, for comparison.
        Case("legit", "trace query with a fragment", TRACE, {"first": 50}),
        Case("legit", "one field", OP + " { sessions { totalCount } }"),
    ]


def answer_of(status: int, body: Any) -> str:
    if status != 200:
        return f"HTTP {status}"
    errors = (body or {}).get("errors") if isinstance(body, dict) else None
    if errors:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code", "?")
        return f"{code}: {first.get('message', '')[:70]}"
    return "data"


async def run_case(
    http: aiohttp.ClientSession, url: str, case: Case, args: argparse.Namespace, seq: list[int]
) -> tuple[list[float], str, int, bool]:
    """(times of the timed runs, the last answer, the document's size in bytes, whether a run timed out)."""
    times: list[float] = []
    answer, size = "", 0
    timeout = aiohttp.ClientTimeout(total=args.give_up)
    warmup, repeat = (0, case.runs) if case.runs else (args.warmup, args.repeat)
    for i in range(warmup + repeat):
        seq[0] += 1
        query = case.query.replace("OPNAME", f"Run{seq[0]}")
        body = orjson.dumps({"query": query, "variables": case.variables})
        size = len(query.encode())
        t0 = time.perf_counter()
        try:
            async with http.post(url, data=body, headers=JSON_HEADERS, timeout=timeout) as r:
                raw = await r.read()
                status = r.status
        except TimeoutError:
            # The server is still at it, its event loop held: the caller restarts it.
            return [time.perf_counter() - t0], f"no answer within {args.give_up:.0f} s", size, True
        dt = time.perf_counter() - t0
        if status == 429:
            raise SystemExit(RATE_LIMIT_HINT)
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        answer = answer_of(status, parsed)
        if i >= warmup or dt > args.give_up / 2:
            times.append(dt)
        if dt > args.give_up / 2:  # this slow is the answer already: more runs would only repeat it
            break
    return times, answer, size, False


async def run(args: argparse.Namespace, server: Server, select: Callable[[Case], bool]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    given_up: set[str] = set()
    seq = [0]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), headers=auth_headers(args)) as http:
        for case in cases():
            if not select(case):
                continue
            if case.family in given_up:
                rows.append(
                    {
                        "case": case.name,
                        "bytes": len(case.query),
                        "median_ms": "skipped",
                        "max_ms": "",
                        "runs": 0,
                        "answer": "a smaller case of this family got no answer in time",
                    }
                )
                continue
            times, answer, size, timed_out = await run_case(http, server.url + "/graphql", case, args, seq)
            if timed_out:
                given_up.add(case.family)
                await asyncio.to_thread(server.restart)
            rows.append(
                {
                    "case": case.name,
                    "bytes": size,
                    "median_ms": (
                        f"> {args.give_up * 1000:.0f}" if timed_out else round(statistics.median(times) * 1000, 1)
                    ),
                    "max_ms": "" if timed_out else round(max(times) * 1000, 1),
                    "runs": len(times),
                    "answer": answer,
                }
            )
            print(f"# {case.name}: {rows[-1]['median_ms']} ms ({answer})")
            sys.stdout.flush()
    return rows


def server_rss_mb(server: Server) -> int | None:
    """The spawned server's resident memory (Linux /proc), None if unknown."""
    if server.proc is None:
        return None
    try:
        for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        return None
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_args(p)
    p.add_argument("-r", "--repeat", type=int, default=5, help="timed runs per case (default %(default)s)")
    p.add_argument("-w", "--warmup", type=int, default=1, help="untimed runs first (default %(default)s)")
    p.add_argument(
        "--give-up",
        type=float,
        default=10.0,
        help="seconds to wait for an answer; past it the server is restarted and the family's larger "
        "cases skipped (default %(default)s)",
    )
    p.add_argument(
        "--only", nargs="+", metavar="FAMILY", help="run only these families (doubling, aliases, bytes, ...)"
    )
    args = p.parse_args()
    if not 1 <= args.repeat <= 1000 or args.warmup < 0:
        p.error("--repeat must be 1..1000 and --warmup at least 0")
    print_header(
        "LensGraph query limits benchmark",
        args,
        {"config": f"repeat={args.repeat}, warmup={args.warmup}, give-up={args.give_up}s"},
    )
    select = (lambda c: c.family in args.only) if args.only else (lambda c: True)
    with Server(args) as server:
        rows = asyncio.run(run(args, server, select))
        log_errors = server.server_log_errors()
        rss = server_rss_mb(server)
    print()
    print_table(rows, ["case", "bytes", "median_ms", "max_ms", "runs", "answer"])
    if rss is not None:
        print(f"# server resident memory at the end: {rss} MB")
    for line in log_errors[:10]:
        print(f"# server log: {line}")
    timed_out = [r for r in rows if str(r["median_ms"]).startswith(">")]
    timed = [r for r in rows if isinstance(r["median_ms"], float)]
    worst = timed_out[0] if timed_out else max(timed, key=lambda r: r["median_ms"], default=None)
    if worst:
        print(f"# worst case: {worst['case']}: median {worst['median_ms']} ms")
    print_result({"bench": "query_limits", "url": server.url, "results": rows, "worst": worst, "rss_mb": rss})
    return 0


if __name__ == "__main__":
    sys.exit(main())
