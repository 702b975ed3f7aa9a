"""Tracing a pipeline function into a DAG of step calls, and checking it.

While a pipeline function runs under ``trace``, each step call adds a node and returns a
``StepOutput`` handle; a handle given to another step (as an argument, or inside a list, tuple
or dict argument) is an edge. A step can only receive handles that exist already, so nodes are
added in topological order and a cycle cannot be built.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cairn.errors import InvalidInput

if TYPE_CHECKING:
    from cairn.pipelines.steps import Pipeline, Step

_current: contextvars.ContextVar[Graph | None] = contextvars.ContextVar("cairn_graph", default=None)
_trace_ids = itertools.count(1)


def current_graph() -> Graph | None:
    """The graph being traced in this context, if any."""
    return _current.get()


class StepOutput:
    """A lazy handle to what a step will return; index it (or unpack it) for one of several."""

    __slots__ = ("_trace", "count", "index", "node")

    def __init__(self, trace_id: int, node: str, index: int | None, count: int | None) -> None:
        self._trace = trace_id
        self.node = node
        self.index = index
        self.count = count  # outputs the step declares (-> tuple[A, B]); None if unknown

    def __getitem__(self, index: int) -> StepOutput:
        if self.index is not None:
            raise InvalidInput(
                f"output {index!r} of {self!r}: a single output cannot be indexed again",
                field="output",
                value=index,
            )
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidInput.for_field("output", index, "an output index 0, 1, …")
        if self.count is not None and index >= self.count:
            raise InvalidInput(
                f"step {self.node!r} declares {self.count} outputs; there is no output {index}",
                field="output",
                value=index,
            )
        return StepOutput(self._trace, self.node, index, None)

    def __iter__(self) -> Iterator[StepOutput]:
        if self.count is None or self.index is not None:
            raise InvalidInput(
                f"the output of step {self.node!r} cannot be unpacked: annotate the step's "
                "return type as tuple[A, B, ...] or index the output (parts[0])",
                field="output",
                value=self.node,
            )
        return (self[i] for i in range(self.count))

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of step {self.node!r} has no value while the pipeline is traced: a "
            "pipeline function wires steps and cannot branch on their outputs",
            field="output",
            value=self.node,
        )

    def __repr__(self) -> str:
        suffix = "" if self.index is None else f"[{self.index}]"
        return f"<output of step {self.node!r}{suffix}>"

    @property
    def label(self) -> str:
        return self.node if self.index is None else f"{self.node}[{self.index}]"


@dataclass
class Node:
    """One call of a step: its bound arguments (handles included) and the nodes it reads."""

    id: str
    step: Step
    arguments: dict[str, Any]
    upstream: tuple[str, ...]
    outputs_needed: int = 0  # the step must return at least this many outputs (highest index + 1)


@dataclass
class Graph:
    """A traced pipeline: nodes in topological order, its parameters and its outputs."""

    pipeline: Pipeline
    params: dict[str, Any]
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: dict[str, StepOutput] = field(default_factory=dict)
    pipelines: list[Pipeline] = field(default_factory=list)  # inlined sub-pipelines
    trace_id: int = field(default_factory=lambda: next(_trace_ids))

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepOutput:
        """Record a call of ``step``; the handle to its output."""
        try:
            bound = step.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(
                f"step {step.name!r}: {exc}", field="step", value=step.name
            ) from None
        bound.apply_defaults()
        missing = [
            p.name
            for p in step.signature.parameters.values()
            if p.name not in bound.arguments and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if missing:
            raise InvalidInput(
                f"step {step.name!r}: required argument {missing[0]!r} not given",
                field=f"{step.name}.{missing[0]}",
                value=None,
            )
        node_id = self._new_id(step.name)
        handles = handles_in(bound.arguments)
        for handle in handles:
            self._check_handle(handle, node_id)
            if handle.index is not None:
                producer = self.nodes[handle.node]
                producer.outputs_needed = max(producer.outputs_needed, handle.index + 1)
        upstream = tuple(dict.fromkeys(h.node for h in handles))
        self.nodes[node_id] = Node(node_id, step, dict(bound.arguments), upstream)
        return StepOutput(self.trace_id, node_id, None, step.declared_outputs)

    def _new_id(self, name: str) -> str:
        if name not in self.nodes:
            return name
        for n in itertools.count(2):
            if f"{name}_{n}" not in self.nodes:
                return f"{name}_{n}"
        raise AssertionError("unreachable")

    def _check_handle(self, handle: StepOutput, consumer: str) -> None:
        if handle._trace != self.trace_id or handle.node not in self.nodes:
            raise InvalidInput(
                f"step {consumer!r} got {handle!r} from another pipeline or trace: pass step "
                "outputs only between steps of one pipeline function",
                field=consumer,
                value=handle.node,
            )

    @property
    def code_hash(self) -> str:
        """sha256 over the pipeline function's source and the sources of every step it uses."""
        parts = sorted({p.code_hash for p in [self.pipeline, *self.pipelines]})
        parts += sorted({n.step.code_hash for n in self.nodes.values()})
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def downstream(self) -> dict[str, list[str]]:
        """Each node and the nodes that read its outputs, in topological order."""
        out: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for node in self.nodes.values():
            for upstream in node.upstream:
                out[upstream].append(node.id)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The DAG as JSON data, stored with each pipeline run."""
        return {
            "pipeline": self.pipeline.name,
            "ref": self.pipeline.ref,
            "code_hash": self.code_hash,
            "nodes": [
                {
                    "id": n.id,
                    "step": n.step.name,
                    "ref": n.step.ref,
                    "code_hash": n.step.code_hash,
                    "upstream": list(n.upstream),
                }
                for n in self.nodes.values()
            ],
            "outputs": {name: [h.node, h.index] for name, h in self.outputs.items()},
        }


def trace(pipeline: Pipeline, params: Mapping[str, Any] | None = None) -> Graph:
    """Run ``pipeline``'s function once with ``params`` (defaults filled in) to build its DAG."""
    values = bind_params(pipeline, params)
    graph = Graph(pipeline, values)
    token = _current.set(graph)
    try:
        returned = pipeline.fn(**values)
    finally:
        _current.reset(token)
    if not graph.nodes:
        raise InvalidInput(
            f"pipeline {pipeline.name!r} calls no step", field="pipeline", value=pipeline.name
        )
    graph.outputs = _named_outputs(graph, returned)
    for node in graph.nodes.values():
        if "<locals>" in node.step.ref:
            raise InvalidInput(
                f"step {node.step.name!r} is defined inside a function ({node.step.ref}): define "
                "steps at module level so that worker processes can import them",
                field="step",
                value=node.step.ref,
            )
    return graph


def bind_params(pipeline: Pipeline, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every parameter's value: the given ones, else defaults; unknown or missing ones raise."""
    given = dict(params or {})
    known = pipeline.params
    for name in given:
        if name not in known:
            raise InvalidInput(
                f"pipeline {pipeline.name!r} has no parameter {name!r}; its parameters: "
                f"{', '.join(known) or 'none'}",
                field="params",
                value=name,
            )
    values = {}
    for name, default in known.items():
        if name in given:
            values[name] = given[name]
        elif default is inspect.Parameter.empty:
            raise InvalidInput(
                f"pipeline {pipeline.name!r} needs parameter {name!r} (it has no default)",
                field="params",
                value=name,
            )
        else:
            values[name] = default
    return values


def _named_outputs(graph: Graph, returned: Any) -> dict[str, StepOutput]:
    """The pipeline's outputs by name: a returned dict's keys, else the handles' labels.

    A pipeline that returns nothing outputs what its last steps (those no step reads) return.
    """
    if returned is None:
        downstream = graph.downstream()
        sinks = [node_id for node_id, readers in downstream.items() if not readers]
        return {node_id: StepOutput(graph.trace_id, node_id, None, None) for node_id in sinks}
    if isinstance(returned, StepOutput):
        items = [(returned.label, returned)]
    elif isinstance(returned, Mapping):
        items = [(str(k), v) for k, v in returned.items()]
    elif isinstance(returned, list | tuple):
        items = [(getattr(h, "label", str(i)), h) for i, h in enumerate(returned)]
    else:
        items = [("output", returned)]
    outputs = {}
    for name, handle in items:
        if not isinstance(handle, StepOutput):
            raise InvalidInput(
                f"pipeline {graph.pipeline.name!r} returned {type(handle).__name__} for output "
                f"{name!r}: return step outputs (one, a tuple, or a dict of them)",
                field="outputs",
                value=name,
            )
        graph._check_handle(handle, f"{graph.pipeline.name} (outputs)")
        outputs[name] = handle
    return outputs


# walking argument structures --------------------------------------------------------------


def handles_in(value: Any) -> list[StepOutput]:
    """Every StepOutput inside ``value`` (through dicts, lists and tuples)."""
    found: list[StepOutput] = []
    substitute(value, StepOutput, lambda handle: found.append(handle) or handle)
    return found


def substitute(value: Any, kind: type, replace: Callable[[Any], Any]) -> Any:
    """A copy of ``value`` with each instance of ``kind`` inside it replaced by ``replace(it)``."""
    if isinstance(value, kind):
        return replace(value)
    if isinstance(value, dict):
        return {k: substitute(v, kind, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, kind, replace) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):  # not a namedtuple
        return tuple(substitute(v, kind, replace) for v in value)
    return value
