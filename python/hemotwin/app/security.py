# SPDX-License-Identifier: Apache-2.0
"""Access token for the workstation: every HTTP request and websocket must carry it (else 403).

The token arrives once in the URL (``?token=...``); the reply sets it as an HttpOnly, SameSite
cookie so the page's assets and its websocket are authorised without the token in their URLs.
"""
from __future__ import annotations

import secrets

__all__ = ["new_token", "token_middleware", "COOKIE"]

COOKIE = "hemotwin_token"


def new_token() -> str:
    """A random URL-safe access token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_middleware(token: str):
    """aiohttp middleware refusing (403) any request without ``token`` in its query or cookie."""
    from aiohttp import web

    @web.middleware
    async def require_token(request, handler):
        given = request.query.get("token")
        from_query = given is not None
        if given is None:
            given = request.cookies.get(COOKIE)
        if given is None or not secrets.compare_digest(given.encode(), token.encode()):
            raise web.HTTPForbidden(text="403 Forbidden: hemotwin app needs its access token "
                                         "(open the URL printed at start-up)\n")
        response = await handler(request)
        if from_query and isinstance(response, web.StreamResponse) and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return require_token
