"""Identifiers: 32 random hex characters, so a short prefix (as the CLI shows) is unique."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return uuid.uuid4().hex
