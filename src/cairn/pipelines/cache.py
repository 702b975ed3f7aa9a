"""Step outputs as stored blobs, the cache key of a step call, and the ``step_cache`` table.

A step's outputs live in the artifact store; records keep only their digests (``StepOutputs``).
The cache key of a call is the sha256 of the step's code hash, its literal arguments and the
digests of the outputs it reads. Equal keys mean equal work, so a stored result is reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cairn.artifacts import ArtifactStore
from cairn.core import now_ms
from cairn.core.serialization import decode, encode, suffix_for
from cairn.errors import CairnError
from cairn.pipelines.graph import substitute
from cairn.store import Store
from cairn.store.schema import step_cache
from cairn.tracking.service import ArtifactRow

KEY_VERSION = 1  # bump when the key's recipe changes, so old entries stop matching


@dataclass(frozen=True)
class OutputRef:
    """One stored output: the blob's digest, how it was serialised, its size in bytes."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class StepOutputs:
    """What one step call returned: one output, or several when it returned a tuple."""

    items: tuple[OutputRef, ...]
    multi: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {"multi": self.multi, "items": [[o.digest, o.media_type, o.size] for o in self.items]},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> StepOutputs:
        data = json.loads(text)
        return cls(tuple(OutputRef(*item) for item in data["items"]), bool(data["multi"]))

    @property
    def digests(self) -> list[str]:
        return [o.digest for o in self.items]

    def artifact_rows(self) -> list[ArtifactRow]:
        """How the step's run lists its outputs: ``outputs/<i>`` with the ending of each's type."""
        return [
            (f"outputs/{i}{suffix_for(o.media_type)}", o.digest, o.size, o.media_type)
            for i, o in enumerate(self.items)
        ]

    def pick(self, index: int | None) -> StepOutputs:
        """Output ``index`` alone, or all of them for None."""
        if index is None:
            return self
        if not self.multi or index >= len(self.items):
            count = len(self.items) if self.multi else 1
            raise CairnError(f"there is no output {index}: the step returned {count}")
        return StepOutputs((self.items[index],))


@dataclass(frozen=True)
class InputRef:
    """Stands in a task's arguments for outputs of an upstream step; workers load them."""

    outputs: StepOutputs


def load_outputs(value: Any, artifacts: ArtifactStore) -> Any:
    """``value`` with every InputRef inside replaced by the object it stands for.

    Several outputs come back as a tuple. Blobs are fetched in one batch.
    """
    refs: list[InputRef] = []
    substitute(value, InputRef, lambda ref: refs.append(ref) or ref)
    if not refs:
        return value
    blobs = artifacts.get_many({d for ref in refs for d in ref.outputs.digests})

    def load(ref: InputRef) -> Any:
        objects = tuple(decode(blobs[o.digest], o.media_type) for o in ref.outputs.items)
        return objects if ref.outputs.multi else objects[0]

    return substitute(value, InputRef, load)


# cache keys --------------------------------------------------------------------------------


def cache_key(code_hash: str, arguments: dict[str, Any]) -> str:
    """The key of calling a step whose source hashes to ``code_hash`` with ``arguments``.

    ``arguments`` are the call's bound arguments with InputRefs for upstream outputs.
    """
    recipe = {"v": KEY_VERSION, "code": code_hash, "args": _fingerprint(arguments)}
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _fingerprint(value: Any) -> Any:
    """JSON data that is equal for two values only if they are equal (as far as can be told).

    Scalars stand for themselves (JSON keeps 1, 1.0 and true apart); containers keep their
    type; upstream outputs are their digests; anything else is the digest of its stored form,
    or of its pickle. Two values whose fingerprints differ only cause a cache miss.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, InputRef):
        return {"input": value.outputs.digests, "multi": value.outputs.multi}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [_fingerprint(v) for v in value]}
    if isinstance(value, dict):
        pairs = [[_fingerprint(k), _fingerprint(v)] for k, v in value.items()]
        return {"dict": sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True))}
    try:
        encoded = encode(value)
        blob = encoded.media_type.encode() + b"\0" + encoded.data
    except CairnError:
        blob = pickle.dumps(value, protocol=5)
    return {type(value).__qualname__: hashlib.sha256(blob).hexdigest()}


# the step_cache table ----------------------------------------------------------------------


class StepCache:
    """Finished step calls by cache key; an entry counts only while its blobs are stored."""

    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    def get(self, key: str) -> tuple[StepOutputs, str | None] | None:
        """(outputs, the step run that computed them) for ``key``, or None."""
        with self.store.read() as conn:
            row = conn.execute(
                select(step_cache.c.outputs, step_cache.c.run_id).where(step_cache.c.key == key)
            ).first()
        if row is None:
            return None
        outputs = StepOutputs.from_json(row[0])
        wanted = set(outputs.digests)
        if self.artifacts.exists_many(wanted) != wanted:
            return None  # blobs gone (store cleaned): compute again, the entry is replaced
        return outputs, row[1]

    def put(self, key: str, pipeline: str, step: str, outputs: StepOutputs, run_id: str) -> None:
        row = {
            "key": key,
            "pipeline": pipeline,
            "step": step,
            "outputs": outputs.to_json(),
            "run_id": run_id,
            "created_at": now_ms(),
        }
        with self.store.write() as conn:
            self.store.upsert(conn, step_cache, [row], ["key"])
