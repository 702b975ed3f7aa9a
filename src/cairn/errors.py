"""Exceptions raised by cairn.

Every error that bad input can cause names the field and the value that was wrong, so the
message alone tells a user what to fix. ``http_status`` is what the REST API answers with.
"""

from __future__ import annotations

from typing import Any


class CairnError(Exception):
    """Base class of every cairn error."""

    http_status = 500

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def to_dict(self) -> dict[str, Any]:
        """JSON body for the REST API."""
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
            body["value"] = (
                self.value if isinstance(self.value, str | int | float) else repr(self.value)
            )
        return body


class InvalidInput(CairnError, ValueError):
    """A value given by the caller is not acceptable."""

    http_status = 422

    @classmethod
    def for_field(cls, field: str, value: Any, expected: str) -> InvalidInput:
        return cls(f"{field}={value!r} is invalid: expected {expected}", field=field, value=value)


class FilterSyntaxError(InvalidInput):
    """A search filter or order-by expression does not parse; the message points at the token."""


class NotFound(CairnError, LookupError):
    """The named object does not exist."""

    http_status = 404

    @classmethod
    def for_field(cls, field: str, value: Any) -> NotFound:
        return cls(f"no {field} {value!r}", field=field, value=value)


class Conflict(CairnError):
    """The request contradicts what is already stored (e.g. a param re-logged with another value)."""

    http_status = 409


class IntegrityError(CairnError):
    """Stored bytes do not match their recorded hash."""


class StoreSchemaError(CairnError):
    """The metadata store's schema is not the one this version of cairn uses."""

    http_status = 503


class ConfigError(CairnError):
    """A setting is malformed or names something that cannot be used."""


class PermissionDenied(CairnError):
    """The current user may not do this (e.g. approve a model version they made)."""

    http_status = 403
