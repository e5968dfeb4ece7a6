# SPDX-License-Identifier: Apache-2.0
"""CLI sub-commands; each module defines register(subparsers)."""
