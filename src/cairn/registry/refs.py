"""Model references: ``name/3`` (a version), ``name@champion`` (an alias), ``name@latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.errors import InvalidInput

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
ALIAS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
LATEST = "latest"
_REF_HELP = "'name/3', 'name@alias' or 'name@latest'"


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None  # LATEST for the newest version

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version else f"{self.name}@{self.alias}"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidInput.for_field(
            "name",
            name,
            "1 to 128 letters, digits, '.', '_' or '-', starting with one of the first two",
        )
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
        raise InvalidInput.for_field(
            "alias", alias, "a word of letters, digits, '_' or '-', starting with a letter"
        )
    return alias


def parse_ref(ref: object) -> Ref:
    """A ``Ref`` from its text; a bare name means its latest version."""
    if not isinstance(ref, str):
        raise InvalidInput.for_field("ref", ref, _REF_HELP)
    name, slash, version = ref.partition("/")
    if slash:
        if not version.isdigit() or int(version) < 1:
            raise InvalidInput.for_field("ref", ref, f"{_REF_HELP}; the version a number from 1")
        return Ref(_name_in(ref, name), version=int(version))
    name, at, alias = ref.partition("@")
    if at:
        if not ALIAS_RE.fullmatch(alias):
            raise InvalidInput.for_field("ref", ref, _REF_HELP)
        return Ref(_name_in(ref, name), alias=alias)
    return Ref(_name_in(ref, name), alias=LATEST)


def _name_in(ref: str, name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidInput.for_field("ref", ref, _REF_HELP)
    return name
