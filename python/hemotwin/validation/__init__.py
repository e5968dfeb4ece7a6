# SPDX-License-Identifier: Apache-2.0
"""Validation against experiments: the FDA benchmark nozzle (geometry, data reader, comparison, V&V 20 metrics)."""
