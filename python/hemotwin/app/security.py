# SPDX-License-Identifier: Apache-2.0
"""Access checks for the workstation: token, Origin and Host (else 403).

The token arrives once in the URL (``?token=...``); the reply sets it as an HttpOnly, SameSite
cookie so the page's assets and its websocket are authorised without the token in their URLs.
The cookie's name carries the port (cookies ignore ports: a second app on the same machine must
not overwrite the first one's cookie).

Cookies are sent by the browser whatever page opens the connection, so the token alone does not
stop another local page (any other port on 127.0.0.1) from opening the app's websocket with it:
a request whose ``Origin`` header is present must come from the app's own origin. The ``Host``
header must name the app itself (loopback name or address, or the interface it was asked to
listen on, with its port): a DNS-rebinding page reaches 127.0.0.1 under a foreign host name.
"""
from __future__ import annotations

import secrets

__all__ = ["new_token", "token_middleware", "cookie_name", "COOKIE", "LOOPBACK_NAMES"]

#: Base of the cookie's name; the full name is :func:`cookie_name` (per port).
COOKIE = "hemotwin_token"

#: Host names a browser on this machine uses for the app (besides the listening interface).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    """A random URL-safe access token (256 bits)."""
    return secrets.token_urlsafe(32)


def cookie_name(port) -> str:
    """The token cookie's name for the app on ``port`` (one per instance)."""
    return f"app{int(port)}_{COOKIE}" if port else COOKIE


def _local_port(request):
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if sock and len(sock) >= 2:
        return int(sock[1])
    return None


def _host_names(extra_hosts):
    names = {n.lower() for n in LOOPBACK_NAMES}
    for h in extra_hosts or ():
        h = str(h).strip().lower()
        if not h or h in ("0.0.0.0", "::", "[::]"):  # wildcard: not a name a browser uses
            continue
        names.add(f"[{h}]" if ":" in h and not h.startswith("[") else h)
    return names


def _allowed_hosts(names, port):
    return {f"{n}:{port}" for n in names}


def token_middleware(token: str, hosts=()):
    """aiohttp middleware refusing (403) a request without ``token`` in its query or cookie,
    with a ``Host`` that is not the app's, or with an ``Origin`` other than the app's own.

    Parameters
    ----------
    token : str
        The access token.
    hosts : iterable of str
        Host names / addresses the app may be reached by besides the loopback ones (the
        interface it listens on when asked for another one).
    """
    from aiohttp import web

    names = _host_names(hosts)

    def forbid(why):
        return web.HTTPForbidden(text=f"403 Forbidden: {why}\n")

    @web.middleware
    async def require_token(request, handler):
        port = _local_port(request)
        host = (request.headers.get("Host") or "").strip().lower()
        if port is not None:
            allowed = _allowed_hosts(names, port)
            if port == 80:
                allowed |= names
            if host not in allowed:
                raise forbid("hemotwin app refuses this Host header (open the URL printed at "
                             "start-up)")
            origin = request.headers.get("Origin")
            if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in allowed}:
                raise forbid("hemotwin app refuses requests from other origins")
        cname = cookie_name(port)
        given = request.query.get("token")
        from_query = given is not None
        if given is None:
            given = request.cookies.get(cname)
            if given is None:  # the per-port name is the one set; the plain one still works
                given = request.cookies.get(COOKIE)
        if given is None or not secrets.compare_digest(given.encode(), token.encode()):
            raise forbid("hemotwin app needs its access token (open the URL printed at start-up)")
        response = await handler(request)
        if from_query and isinstance(response, web.StreamResponse) and not response.prepared:
            response.set_cookie(cname, token, httponly=True, samesite="Strict", path="/")
        return response

    return require_token
