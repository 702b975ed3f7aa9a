"""Guards on alias moves: checks that layers above the registry add, without the registry
importing them (``cairn.evaluation`` guards ``champion`` with its promotion gate).

The modules that add guards are named in ``GUARD_MODULES`` and imported on the first alias
move, so that ``import cairn`` stays light (the gate needs the registry, pandas included).

A guard is called inside the transaction that moves the alias, with that connection, the
version the alias is about to point at and the caller's ``override_reason``; it raises a cairn
error to refuse the move (nothing is then written), or returns to let it happen. Whatever it
writes on the connection (an override record) is committed with the move.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

AliasGuard = Callable[[Connection, Any, str, "str | None"], None]

#: Modules that add guards when imported.
GUARD_MODULES = ("cairn.evaluation.gate",)

_guards: dict[str, list[AliasGuard]] = {}


def add_alias_guard(alias: str, guard: AliasGuard) -> None:
    """Call ``guard(conn, version, alias, override_reason)`` before ``alias`` moves (once)."""
    guards = _guards.setdefault(alias, [])
    if guard not in guards:
        guards.append(guard)


def check_alias_move(
    conn: Connection, version: Any, alias: str, override_reason: str | None
) -> None:
    for module in GUARD_MODULES:
        importlib.import_module(module)  # once: later calls find it in sys.modules
    for guard in _guards.get(alias, ()):
        guard(conn, version, alias, override_reason)
