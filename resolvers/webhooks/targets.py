"""Where a webhook may point: http or https URLs whose host is a public address.

Private, loopback, link-local (cloud metadata at 169.254.169.254), shared, reserved, multicast and unspecified
addresses are refused unless the server allows private targets (LENSGRAPH_WEBHOOK_ALLOW_PRIVATE). A host
name is refused if any address it resolves to is refused. The check runs when an endpoint is created or
changed, and again at every send on the addresses actually connected to (graph/app/webhooks.py), so a name
that resolves elsewhere later (DNS rebinding) reaches nothing private either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from resolvers.core.errors import InputError, Problem

MAX_URL = 2048
SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused_address(address: str | IPAddress) -> str | None:
    """Why a webhook may not connect to this address, or None if it may."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    return None


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse_url(raw: object, field: str = "url") -> tuple[str, str, int]:
    """(the URL, its host, its port) for a well-formed http(s) URL; InputError naming field otherwise."""
    if not isinstance(raw, str) or not raw:
        raise InputError(Problem(field, "a URL (http:// or https://) is required"))
    if len(raw) > MAX_URL:
        raise InputError(Problem(field, f"at most {MAX_URL} characters"))
    if any(c.isspace() or ord(c) < 32 for c in raw):
        raise InputError(Problem(field, "must not contain spaces or control characters"))
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InputError(Problem(field, f"not a valid URL: {exc}")) from None
    if parts.scheme.lower() not in SCHEMES:
        raise InputError(Problem(field, "must be an http:// or https:// URL"))
    host = parts.hostname
    if not host:
        raise InputError(Problem(field, "must name a host"))
    if parts.username is not None or parts.password is not None:
        raise InputError(Problem(field, "must not carry credentials (user:password@); the signature authenticates"))
    if parts.fragment:
        raise InputError(Problem(field, "must not have a #fragment"))
    if literal_ip(host) is None:
        try:
            host.encode("idna")
        except UnicodeError:
            raise InputError(Problem(field, f"{host!r} is not a valid host name")) from None
    return raw, host, port or (443 if parts.scheme.lower() == "https" else 80)


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_url(raw: object, allow_private: bool, field: str = "url") -> str:
    """The URL, if a webhook may point there; InputError naming field (and why) otherwise."""
    url, host, port = parse_url(raw, field)
    if allow_private:
        return url
    ip = literal_ip(host)
    if ip is not None:
        reason = refused_address(ip)
        if reason:
            raise InputError(Problem(field, f"{host} is {reason}: webhooks must point to a public address"))
        return url
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError):
        raise InputError(Problem(field, f"the host {host!r} does not resolve")) from None
    for address in addresses:
        reason = refused_address(address)
        if reason:
            raise InputError(Problem(field, f"{host} resolves to {address}, {reason}: webhooks must point to a "
                                            "public address"))
    return url
