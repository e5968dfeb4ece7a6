# SPDX-License-Identifier: Apache-2.0
"""Credibility kit: case studies (grid convergence, sensitivity) and the V&V 40-style report."""
