# SPDX-License-Identifier: Apache-2.0
"""The planning workstation: a trame + PyVista web app on 127.0.0.1 behind a random access token.

``hemotwin app [CASE.toml | RUN_DIR]``; entry point :func:`hemotwin.app.server.serve`, the app
itself :class:`hemotwin.app.ui.Workstation`. (Kept empty: an editable install made before this
package existed sees it as a namespace package.)
"""
