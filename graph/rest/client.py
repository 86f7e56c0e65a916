"""Who is calling, as far as the network can tell: the client's address and country.

Behind a reverse proxy the socket's peer is the proxy. Only as many
X-Forwarded-For hops as the operator says are trusted (LENSGRAPH_TRUSTED_PROXY_HOPS),
counted from the right, since everything left of them is whatever the client wrote.
A country header (e.g. Cloudflare's CF-IPCountry) is read only when configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Network:
    trusted_proxy_hops: int = 0
    country_header: str | None = None


NETWORK = web.AppKey("network", Network)


def client_address(request: web.Request) -> str | None:
    network = request.config_dict.get(NETWORK) or Network()
    if network.trusted_proxy_hops > 0:
        hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
        if len(hops) >= network.trusted_proxy_hops:
            return hops[-network.trusted_proxy_hops]
    return request.remote


def client_country(request: web.Request) -> str | None:
    network = request.config_dict.get(NETWORK) or Network()
    return request.headers.get(network.country_header) if network.country_header else None
