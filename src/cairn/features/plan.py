"""Which views and features a request names, resolved once and kept.

A request names features as a feature service (object or applied name), feature views or
``view[...]`` selections, or strings ``"view:feature"`` / ``"view:*"`` of applied views. A plan
lists, per view, the stored features to read and the derived ones to compute, and the output
columns in the order asked. Stored features a derived one needs are read even when not asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import InvalidInput
from cairn.features.definitions import (
    FeatureSelection,
    FeatureService,
    FeatureView,
    digest_of,
    unknown_feature,
)
from cairn.features.packing import Codec
from cairn.features.registry import Applied

PANDAS_DTYPES = {"int64": "Int64", "float64": "float64", "bool": "boolean", "string": "str"}


@dataclass
class ViewPlan:
    view: FeatureView
    applied: Applied | None  # the stored version with this definition, if applied
    stored: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    codec: Codec | None = None

    def __post_init__(self) -> None:
        ttl = self.view.ttl
        self.ttl_ms = None if ttl is None else int(ttl.total_seconds() * 1000)

    @property
    def slots(self) -> list[int]:
        """The position in a record of each stored feature wanted."""
        names = [f.name for f in self.view.features]
        return [names.index(name) for name in self.stored]

    def require_applied(self) -> Applied:
        """The stored version of this definition; InvalidInput naming the view if none."""
        if self.applied is None:
            raise InvalidInput(
                f"feature view {self.view.name!r} is not applied as it is defined here: "
                "apply it first (cairn.features.apply or `cairn features apply`)",
                field="feature_view",
                value=self.view.name,
            )
        return self.applied

    @property
    def namespace(self) -> str:
        """Where this version's records live in the online store."""
        return f"{self.view.name}@{self.require_applied().version}"

    def dtype(self, name: str) -> str:
        for f in (*self.view.features, *self.view.derived):
            if f.name == name:
                return f.dtype
        raise unknown_feature(self.view, name)


@dataclass
class Plan:
    """What a request reads and computes; the derived fields are worked out once, as plans
    are kept and reused by every lookup of the same shape."""

    views: list[ViewPlan]
    outputs: list[tuple[ViewPlan, str]]  # (view, feature) per output column, in order

    def __post_init__(self) -> None:
        self.join_keys = list(dict.fromkeys(k for vp in self.views for k in vp.view.join_keys))
        self.computes = any(vp.derived for vp in self.views)
        self.dtypes = {name: vp.dtype(name) for vp, name in self.outputs}
        # the online fast path: (view plan, namespace, positions of its wanted features)
        self.reads: list[tuple[ViewPlan, str, list[int]]] | None = None

    def online_reads(self) -> list[tuple[ViewPlan, str, list[int]]]:
        if self.reads is None:
            self.reads = [(vp, vp.namespace, vp.slots) for vp in self.views]
        return self.reads


def make_plan(
    features: Any,
    view_by_name: Callable[[str], tuple[FeatureView, Applied]],
    service_by_name: Callable[[str], FeatureService],
    applied_of: Callable[[FeatureView], Applied | None],
) -> Plan:
    """Resolve ``features``; the callables look definitions up in the registry."""
    wanted: list[tuple[FeatureView, Applied | None, str]] = []
    for item in _items(features, service_by_name):
        if isinstance(item, str):
            view_name, sep, name = item.partition(":")
            if not sep or not name:
                raise InvalidInput.for_field("features", item, "'view:feature' or 'view:*'")
            view, applied = view_by_name(view_name)
            names = view.feature_names if name == "*" else (name,)
            for n in names:
                if n not in view.feature_names:
                    raise unknown_feature(view, n)
                wanted.append((view, applied, n))
        else:
            view = item.view if isinstance(item, FeatureSelection) else item
            names = item.names if isinstance(item, FeatureSelection) else view.feature_names
            applied = applied_of(view)
            wanted.extend((view, applied, n) for n in names)
    if not wanted:
        raise InvalidInput.for_field("features", features, "at least one feature")
    return _plan(wanted)


def _items(features: Any, service_by_name: Callable[[str], FeatureService]) -> list[Any]:
    if isinstance(features, str) and ":" not in features:
        features = service_by_name(features)
    if isinstance(features, FeatureService):
        return list(features.features)
    if isinstance(features, str | FeatureView | FeatureSelection):
        return [features]
    if isinstance(features, Sequence):
        return list(features)
    raise InvalidInput.for_field(
        "features",
        features,
        "a feature service, feature views, view[...] selections or 'view:feature' strings",
    )


def _plan(wanted: list[tuple[FeatureView, Applied | None, str]]) -> Plan:
    plans: dict[str, ViewPlan] = {}
    outputs: list[tuple[ViewPlan, str]] = []
    seen: dict[str, str] = {}
    for view, applied, name in wanted:
        vp = plans.get(view.name)
        if vp is None:
            vp = plans[view.name] = ViewPlan(view, applied, codec=Codec(view.features))
        elif digest_of(vp.view.spec()) != digest_of(view.spec()):
            raise InvalidInput(
                f"two different definitions of feature view {view.name!r} in one request",
                field="feature_view",
                value=view.name,
            )
        if name in seen:
            if seen[name] == view.name:
                continue
            raise InvalidInput(
                f"feature {name!r} is asked from views {seen[name]!r} and {view.name!r}: "
                "the output would have two columns of that name; ask for one",
                field="feature",
                value=name,
            )
        seen[name] = view.name
        outputs.append((vp, name))
        stored = {f.name for f in view.features}
        (vp.stored if name in stored else vp.derived).append(name)
    for vp in plans.values():
        if vp.derived:  # the transformation reads every stored feature of its view
            vp.stored = [f.name for f in vp.view.features]
    return Plan(list(plans.values()), outputs)
