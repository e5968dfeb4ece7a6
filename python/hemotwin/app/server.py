# SPDX-License-Identifier: Apache-2.0
"""Entry point of the workstation: build it and serve until interrupted."""
from __future__ import annotations

__all__ = ["serve"]


def serve(source=None, *, host="127.0.0.1", port=0, out_dir=None, token=None, on_ready=None,
          case_path=None):
    """Serve the workstation until interrupted.

    Parameters
    ----------
    source : str or Path, optional
        A case TOML (run in the background first) or a finished run folder.
    host : str
        Interface to listen on (127.0.0.1 unless explicitly asked otherwise).
    port : int
        TCP port; 0 picks a free one.
    out_dir : str or Path, optional
        Where the app's own runs go.
    token : str, optional
        Access token (default: a new random one).
    on_ready : callable, optional
        Called with the URL (carrying the token) once the server listens.
    case_path : str or Path, optional
        With a run folder as ``source``: the case file it was run from, so Simulate can re-run it.
    """
    from .security import new_token
    from .ui import Workstation

    ws = Workstation(source, token or new_token(), out_dir=out_dir, case_path=case_path)
    ws.start(host=host, port=port, on_ready=on_ready)
