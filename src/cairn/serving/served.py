"""A model being served: loaded from the registry (a ref) or from a package folder, and, with a
feature service, completing requests that carry only entity ids from the online store.

With ``compile="onnx"`` a scikit-learn, LightGBM or XGBoost model is served as its ONNX graph,
once the graph has been checked to give the model's answers (``cairn.models.compile_onnx``); a
registry version keeps its graph, so the next server runs it at once
(``cairn.models.load_compiled``).

A ref with an alias (``credit-risk@champion``, or ``@latest``) follows the alias: ``refresh``
loads the version it points at now and swaps it in with one assignment, so a request in flight
finishes on the model it started with and the next one gets the new model; none is dropped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cairn.errors import InvalidInput
from cairn.registry import LoadedModel
from cairn.registry.refs import parse_ref

log = logging.getLogger(__name__)


class ServedModel:
    """The model ``target`` names (a registry ref or a package folder), kept current."""

    def __init__(
        self, target: str | os.PathLike, features: str | None = None, compile: str | None = None
    ) -> None:
        if compile not in (None, "onnx"):
            raise InvalidInput.for_field("compile", compile, '"onnx" (or nothing)')
        self.target = str(target)
        self.features = features  # a feature service that completes id-only requests
        self.compile = compile
        self.package = Path(self.target, "model.json").is_file()
        self.follows_alias = not self.package and parse_ref(self.target).version is None
        self.current: LoadedModel = self._load()
        if features is not None:  # an unknown service is refused before the server listens
            from cairn.features import feature_store

            feature_store().plan(features)

    @property
    def name(self) -> str:
        return self.current.name

    def fill(self, frame: Any) -> Any:
        """The request rows completed from the online feature store (``features`` set)."""
        from cairn.features import fill_request

        return fill_request(frame, self.features)

    @property
    def version_id(self) -> str | None:
        """The registry id of the version served; a package carries none."""
        return None if self.package else self.current.metadata["id"]

    def refresh(self) -> bool:
        """Switch to the version the alias points at now; True when it moved."""
        if not self.follows_alias:
            return False
        from cairn.registry import get_version

        now = get_version(self.target)
        if now.id == self.version_id:
            return False
        loaded = self._load(now.ref)
        previous, self.current = self.current.version, loaded
        log.warning(
            "%s moved: serving %s/%s (was %s)", self.target, now.name, now.version, previous
        )
        return True

    def _load(self, ref: str | None = None) -> LoadedModel:
        import cairn.models

        if self.package:
            loaded = cairn.models.load(Path(self.target))
            return cairn.models.compile_onnx(loaded) if self.compile else loaded
        ref = ref or self.target
        return cairn.models.load_compiled(ref) if self.compile else cairn.models.load(ref)
