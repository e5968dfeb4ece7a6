# SPDX-License-Identifier: Apache-2.0
"""Reports: self-contained HTML (``write_report``), results.json schema, provenance."""
from __future__ import annotations

__all__ = ["write_report"]


def __getattr__(name):  # lazy: keeps `import hemotwin.report` free of templates and I/O
    if name == "write_report":
        from .html import write_report

        return write_report
    raise AttributeError(f"module 'hemotwin.report' has no attribute {name!r}")
