"""Imported by the local executor's forkserver after the first step's module, to load once the
serializers that module's outputs will need (rather than once in every worker it forks): Parquet
when it uses pandas or Arrow, skops when it uses scikit-learn. A no-op for other pipelines.
"""

import sys

if "pandas" in sys.modules or "pyarrow" in sys.modules:
    import pyarrow.parquet  # noqa: F401
if "sklearn" in sys.modules:
    import skops.io  # noqa: F401
