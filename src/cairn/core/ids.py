"""Identifiers: 32 hex characters, time-ordered so that ids sort by creation."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """A new id: 12 hex digits of milliseconds since the epoch, then 20 random hex digits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"
