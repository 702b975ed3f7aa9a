"""How every benchmark ends: the result saved as ``benchmarks/results/<name>.json`` and shown,
as JSON (``--json``) or as the script's own summary. Standard library only: a benchmark's
worker may run in a competitor's virtualenv."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def publish(
    result: dict[str, Any], name: str, as_json: bool, summary: Callable[[dict[str, Any]], None]
) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        summary(result)
