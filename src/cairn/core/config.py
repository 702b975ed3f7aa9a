"""Effective settings and where each came from.

Precedence: environment variable, then ``$CAIRN_HOME/config.toml``, then the built-in default.
Settings are read afresh on each call so that a changed environment takes effect at once.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cairn.errors import ConfigError

# setting name -> environment variable
ENV_VARS = {
    "home": "CAIRN_HOME",
    "uri": "CAIRN_URI",
    "artifacts": "CAIRN_ARTIFACTS",
    "s3_endpoint_url": "CAIRN_S3_ENDPOINT_URL",
    "user": "CAIRN_USER",
    "auto_migrate": "CAIRN_AUTO_MIGRATE",
    "online_store": "CAIRN_ONLINE_STORE",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    uri: str
    artifacts: str
    s3_endpoint_url: str | None
    user: str
    auto_migrate: bool
    online_store: str
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, source) for every setting, for ``cairn config``."""
        return [
            (
                name,
                "" if getattr(self, name) is None else str(getattr(self, name)),
                self.sources[name],
            )
            for name in ENV_VARS
        ]


def _read_file(home: Path) -> tuple[dict[str, object], Path]:
    path = home / "config.toml"
    if not path.is_file():
        return {}, path
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}", field="config.toml", value=str(path)
        ) from exc
    unknown = set(data) - set(ENV_VARS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(
            f"{path}: unknown setting {name!r}; known: {', '.join(ENV_VARS)}",
            field=name,
            value=data[name],
        )
    return data, path


def _parse_bool(name: str, raw: object) -> bool:
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)", field=name, value=raw)


def settings() -> Settings:
    """The effective settings now."""
    sources: dict[str, str] = {}
    env = os.environ

    if env.get("CAIRN_HOME"):
        home, sources["home"] = Path(env["CAIRN_HOME"]), "env CAIRN_HOME"
    else:
        home, sources["home"] = Path.cwd() / ".cairn", "default (./.cairn)"
    home = home.expanduser().absolute()
    file_values, file_path = _read_file(home)

    def pick(name: str, default: object, default_note: str = "default") -> object:
        var = ENV_VARS[name]
        if env.get(var):
            sources[name] = f"env {var}"
            return env[var]
        if name in file_values:
            sources[name] = f"file {file_path}"
            return file_values[name]
        sources[name] = default_note
        return default

    def default_user() -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no passwd entry, e.g. in some containers
            return "unknown"

    uri = str(pick("uri", f"sqlite:///{home / 'cairn.db'}"))
    artifacts = str(pick("artifacts", str(home / "artifacts")))
    endpoint = pick(
        "s3_endpoint_url",
        env.get("AWS_ENDPOINT_URL"),
        "env AWS_ENDPOINT_URL" if env.get("AWS_ENDPOINT_URL") else "default",
    )
    user = str(pick("user", None, "OS user") or default_user())
    auto_migrate = _parse_bool("auto_migrate", pick("auto_migrate", True))
    online_store = str(pick("online_store", f"sqlite:///{home / 'online.db'}"))
    return Settings(
        home=home,
        uri=uri,
        artifacts=artifacts,
        s3_endpoint_url=str(endpoint) if endpoint else None,
        user=user,
        auto_migrate=auto_migrate,
        online_store=online_store,
        sources=sources,
    )
