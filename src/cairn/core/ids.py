"""Identifiers: 32 random hex characters, so a short prefix (as the CLI shows) is unique."""

from __future__ import annotations

import os


def new_id() -> str:
    return os.urandom(16).hex()  # 128 random bits; a seventh of uuid4().hex's cost
