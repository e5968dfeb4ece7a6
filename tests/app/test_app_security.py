# SPDX-License-Identifier: Apache-2.0
"""`hemotwin app`: one URL line with a token on 127.0.0.1; requests without the token get 403."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytest.importorskip("trame")
pytest.importorskip("trame_vtk")
pytest.importorskip("trame_vuetify")


def _status(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_prints_one_url_line_with_token(served_view):
    url_lines = [ln for ln in served_view.lines if "http://" in ln]
    assert len(url_lines) == 1, served_view.lines
    assert "http://127.0.0.1:" in url_lines[0] and "token=" in url_lines[0]
    assert len(served_view.token) >= 32


def test_requests_without_token_are_refused(served_view):
    base, tok = served_view.base, served_view.token
    for path in ("/", "/index.html", "/ws", "/runs/results.json", "/nothing"):
        assert _status(base + path)[0] == 403, path
    assert _status(base + "/index.html?token=wrong" + tok[:4])[0] == 403
    assert _status(base + "/index.html", {"Cookie": "hemotwin_token=wrong"})[0] == 403
    # websocket upgrade without the token
    up = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert _status(base + "/ws", up)[0] == 403


def test_request_with_token_is_served_and_sets_cookie(served_view):
    code, headers = _status(served_view.url)
    assert code == 200
    assert "hemotwin_token=" in headers.get("Set-Cookie", "")
    assert "HttpOnly" in headers.get("Set-Cookie", "")
    code, _ = _status(served_view.base + "/index.html",
                      {"Cookie": f"hemotwin_token={served_view.token}"})
    assert code == 200


def test_listens_on_loopback_only(served_view):
    import socket

    # the server is bound to 127.0.0.1: another local address must not reach it
    try:
        other = socket.gethostbyname(socket.gethostname())
    except OSError:
        pytest.skip("no other local address to try")
    if other.startswith("127."):
        pytest.skip(f"host name resolves to loopback ({other})")
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((other, served_view.port)) != 0
