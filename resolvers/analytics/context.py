"""Product context of a tracked event: who, from where, on what.

What the tracker sent in its properties wins (it sees the page and the screen);
the rest comes from the request: browser, OS and device type from the
User-Agent (ua-parser), the country from a trusted proxy's header or else from
the client address (geoip2fast's bundled table, loaded once, in memory, no
network). Values are bounded in length so a hostile tracker cannot bloat rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ua_parser import BasicResolver, Parser, load_lazy_builtins

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_VALUE = 2048
TABLETS = ("ipad", "tablet", "kindle", "playbook", "nexus 7", "nexus 9", "nexus 10", "sm-t")
DEVICE_TYPES = {"mobile", "tablet", "desktop", "bot"}


def _text(value: Any, limit: int = MAX_VALUE) -> str | None:
    if isinstance(value, str) and value:
        return value[:limit]
    return None


def referrer_domain(referrer: str | None) -> str | None:
    """The referrer's host, lower-cased, without a leading www. (None for no or an unparseable referrer)."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


@functools.cache
def _user_agents() -> Parser:
    # Lazily compiled regexes: +2 MB for the few patterns a site's visitors hit, where compiling
    # them all up front (ua-parser's default, or its Rust matcher) costs 28 MB per process.
    return Parser(BasicResolver(load_lazy_builtins()))


@functools.lru_cache(maxsize=4096)
def describe_user_agent(user_agent: str) -> tuple[str | None, str | None, str | None]:
    """(device type, browser, OS) of a User-Agent; the cache holds the few agents a site sees."""
    parsed = _user_agents().parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else None
    os_name = parsed.os.family if parsed.os else None
    device_family = (parsed.device.family if parsed.device else "") or ""
    lowered = user_agent.lower()
    if device_family == "Spider" or "bot" in lowered or "crawler" in lowered or "spider" in lowered:
        device = "bot"
    elif any(t in lowered for t in TABLETS) or ("android" in lowered and "mobile" not in lowered):
        device = "tablet"
    elif "mobi" in lowered or os_name in ("iOS", "Android") or device_family in ("iPhone", "iPod"):
        device = "mobile"
    else:
        device = "desktop"
    return device, None if browser == "Other" else browser, None if os_name == "Other" else os_name


@functools.cache
def _geoip() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast()


def country_of(address: str | None) -> str | None:
    """ISO 3166 alpha-2 code of a client address; None for private, reserved or unknown addresses."""
    if not address:
        return None
    try:
        code = _geoip().lookup(address).country_code
    except Exception:
        return None
    return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None


def product_context(
    properties: Mapping[str, Any],
    *,
    user_id: str | None,
    anonymous_id: str | None,
    user_agent: str | None,
    client_address: str | None,
    country: str | None = None,
) -> dict[str, str | None]:
    """The Event fields of storage.models.traces.PRODUCT_FIELDS (all but kind) for one tracked event."""
    url = _text(properties.get("url"))
    path = _text(properties.get("path"))
    query: dict[str, list[str]] = {}
    if url:
        try:
            parts = urlsplit(url)
            path = path or parts.path or "/"
            query = parse_qs(parts.query)
        except ValueError:
            pass
    referrer = _text(properties.get("referrer"))
    out: dict[str, str | None] = {
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "url": url,
        "path": path,
        "referrer": referrer,
        "referrer_domain": referrer_domain(referrer),
    }
    for key in UTM_KEYS:
        sent = query.get(key)
        out[key] = _text(properties.get(key), 256) or (_text(sent[0], 256) if sent else None)
    device = browser = os_name = None
    if user_agent:
        device, browser, os_name = describe_user_agent(user_agent[:1024])
    sent_device = _text(properties.get("device"), 32)
    out["device"] = sent_device.lower() if sent_device and sent_device.lower() in DEVICE_TYPES else device
    out["browser"] = _text(properties.get("browser"), 64) or browser
    out["os"] = _text(properties.get("os"), 64) or os_name
    hinted = country.strip().upper() if country else None
    out["country"] = hinted if hinted and len(hinted) == 2 and hinted.isalpha() and hinted != "XX" else (
        country_of(client_address)
    )
    return out
