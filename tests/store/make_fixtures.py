"""Writes tests/store/fixtures/rev<REVISION>.db: a small store at the current schema revision.

Run it once per schema revision, *before* adding the next migration, and commit the file: the
migration tests then open every store an earlier cairn wrote.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":
    out = Path(__file__).parent / "fixtures"
    with tempfile.TemporaryDirectory() as home:
        os.environ["CAIRN_HOME"] = home
        import cairn
        from cairn.store import SCHEMA_HEAD

        for name in ("a", "b"):
            with cairn.start_run(experiment="fixture", name=name, params={"p": 1}) as run:
                for step in range(10):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
        target = out / f"rev{SCHEMA_HEAD}.db"
        out.mkdir(exist_ok=True)
        src = Path(home) / "cairn.db"
        import sqlite3

        with sqlite3.connect(src) as db:  # fold the WAL into the file before copying it
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM INTO ?", (str(target),))
        print(f"wrote {target}", file=sys.stderr)
