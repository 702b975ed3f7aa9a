"""The OpenAPI description of a served model's predict endpoint, from its signature."""

from __future__ import annotations

from typing import Any

from cairn.registry.signature import ColumnSpec, Signature

_JSON_TYPES = {
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "string": "string",
    "datetime": "string",
}


def column_schema(spec: ColumnSpec) -> dict[str, Any]:
    if spec.categories is not None:
        schema: dict[str, Any] = {"enum": list(spec.categories)}
    else:
        schema = {"type": _JSON_TYPES[spec.type]}
        if spec.type == "datetime":
            schema["format"] = "date-time"
    if spec.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def request_body(signature: Signature) -> dict[str, Any]:
    """``requestBody`` for the route: records or columns, each column typed."""
    columns = {spec.name: column_schema(spec) for spec in signature.inputs}
    required = [spec.name for spec in signature.inputs]
    records = {
        "type": "object",
        "properties": {
            "records": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "properties": columns, "required": required},
            }
        },
        "required": ["records"],
    }
    by_column = {
        "type": "object",
        "properties": {
            "columns": {
                "type": "object",
                "properties": {n: {"type": "array", "items": s} for n, s in columns.items()},
                "required": required,
            }
        },
        "required": ["columns"],
    }
    return {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [records, by_column]}}},
    }


def responses(signature: Signature) -> dict[str, Any]:
    prediction = {"type": _JSON_TYPES.get(signature.prediction_type, "string")}
    answer = {
        "type": "object",
        "properties": {
            "request_id": {"type": "string"},
            "model": {"type": "string"},
            "version": {"type": "integer"},
            "predictions": {"type": "array", "items": prediction},
            "probabilities": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "number"}},
                "description": f"per row, in the order of classes {signature.classes}",
            },
            "classes": {"type": "array"},
        },
        "required": ["request_id", "model", "version", "predictions"],
    }
    error = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "expected": {"type": "string"},
            "got": {},
            "row": {"type": "integer"},
            "request_id": {"type": "string"},
        },
    }
    return {
        "200": {"description": "Predictions", "content": _json(answer)},
        "413": {
            "description": "The body or the number of rows is too large",
            "content": _json(error),
        },
        "422": {"description": "A row does not fit the signature", "content": _json(error)},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
