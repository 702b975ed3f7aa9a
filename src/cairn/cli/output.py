"""How the CLI shows things: Rich tables for people, ``--json`` for machines."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from cairn.errors import CairnError

console = Console()
err_console = Console(stderr=True)

JSON_HELP = "Print JSON instead of a table."


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=_default, allow_nan=False))


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)


def print_error(exc: CairnError) -> None:
    err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True)


def table(title: str | None, columns: list[str], wrap: tuple[str, ...] = ()) -> Table:
    """A table whose cells stay on one line (cut with …) except in the ``wrap`` columns."""
    t = Table(title=title, header_style="bold", title_justify="left")
    for name in columns:
        if name in wrap:
            t.add_column(name, overflow="fold")
        else:
            t.add_column(name, no_wrap=True, overflow="ellipsis")
    return t


def fmt_time(when: datetime | None) -> str:
    return "" if when is None else when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def fmt_number(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"


STATUS_STYLE = {"running": "cyan", "finished": "green", "failed": "red", "killed": "yellow"}


def fmt_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"
