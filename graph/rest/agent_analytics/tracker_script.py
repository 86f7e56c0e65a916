"""GET {prefix}/tracker.js: the browser tracker, minified once, gzipped for browsers that take it.

The source (tracker.js beside this module) stays readable in the repository; visitors get the
minified bytes with an ETag, so a revisit within the cache lifetime costs a 304 at most.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib.resources import files

import rjsmin
from aiohttp import web

from graph.rest.auth import public

CONTENT_TYPE = "application/javascript"
MAX_AGE = 3600  # an hour: a changed tracker reaches sites within that


@cache
def script() -> tuple[bytes, bytes, str]:
    """(minified, gzipped, etag)."""
    source = files(__package__).joinpath("tracker.js").read_text("utf-8")
    minified = rjsmin.jsmin(source, keep_bang_comments=False).encode()
    return minified, gzip.compress(minified, 9, mtime=0), '"' + hashlib.sha256(minified).hexdigest()[:20] + '"'


@public
async def tracker_script(request: web.Request) -> web.Response:
    minified, gzipped, etag = script()
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}", "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=gzipped, content_type=CONTENT_TYPE, charset="utf-8", headers=headers)
    return web.Response(body=minified, content_type=CONTENT_TYPE, charset="utf-8", headers=headers)
