"""Packaging: a version as a self-contained folder that loads without any store.

The folder holds the model file, ``signature.json``, ``requirements.txt`` (pinned from the
version's environment, limited to what its flavour needs, plus cairn), ``model.json`` (name,
version, flavour, digest, run, trusted types) and ``predict.py``, a tiny entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cairn.artifacts.base import check_digest
from cairn.errors import NotFound
from cairn.registry import flavours
from cairn.registry.service import RegistryService
from cairn.registry.signature import Signature

ENTRY_POINT = '''"""Predict with this packaged model: python predict.py input.csv|input.parquet > out.csv"""

import sys
from pathlib import Path

import pandas as pd

import cairn.models

model = cairn.models.load(Path(__file__).parent)
path = sys.argv[1]
frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
pd.DataFrame({"prediction": model.predict(frame)}).to_csv(sys.stdout, index=False)
'''


def package(service: RegistryService, ref: str, out: str | os.PathLike) -> Path:
    """Write the package of ``ref`` to the folder ``out`` (made whole, then renamed into place)."""
    version = service.get_version(ref)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model_file = "model" + (
            flavours.ONNX_SUFFIX if version.flavour == "onnx" else flavours.SUFFIX
        )
        service.artifacts.get_file(version.digest, work / model_file)
        (work / "signature.json").write_text(json.dumps(version.signature.to_dict(), indent=2))
        (work / "requirements.txt").write_text(requirements(version.flavour, version.environment))
        meta = {
            "name": version.name,
            "version": version.version,
            "flavour": version.flavour,
            "digest": version.digest,
            "run_id": version.run_id,
            "file": model_file,
            "trusted_types": version.trusted_types,
            "python_version": version.environment.get("python_version"),
        }
        (work / "model.json").write_text(json.dumps(meta, indent=2))
        (work / "predict.py").write_text(ENTRY_POINT)
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def requirements(flavour: str, environment: dict[str, Any]) -> str:
    """Pinned lines for the flavour's packages and cairn, at the versions the run used."""
    packages = environment.get("packages", {})
    lines = []
    for name in (*flavours.REQUIREMENTS.get(flavour, ()), "cairn"):
        version = packages.get(name)
        lines.append(f"{name}=={version}" if version else name)
    return "\n".join(lines) + "\n"


def load_package(folder: str | os.PathLike) -> Any:
    """A ``LoadedModel`` from a packaged folder; the file must match its recorded digest."""
    from cairn.registry.loaded import LoadedModel

    root = Path(folder)
    if not (root / "model.json").is_file():
        raise NotFound.for_field("model package", str(root))
    meta = json.loads((root / "model.json").read_text())
    data = (root / meta["file"]).read_bytes()
    check_digest(meta["digest"], data)
    signature = Signature.from_dict(json.loads((root / "signature.json").read_text()))
    model = flavours.load(data, meta["trusted_types"], meta["flavour"])
    return LoadedModel(model, signature, meta)
