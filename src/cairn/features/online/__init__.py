"""Online stores, chosen by URI: ``sqlite:///path`` (the default, under CAIRN_HOME) or
``redis://host:port/db``. Backends are imported when chosen, so Redis is needed only by those
who use it.
"""

from __future__ import annotations

from cairn.errors import ConfigError
from cairn.features.online.base import OnlineStore

__all__ = ["OnlineStore", "open_online_store"]


def open_online_store(uri: str | None = None) -> OnlineStore:
    """The online store at ``uri`` (default: the ``online_store`` setting, CAIRN_ONLINE_STORE)."""
    from cairn.core import settings

    uri = uri or settings().online_store
    if uri.startswith("sqlite:///"):
        from cairn.features.online.sqlite import SqliteOnlineStore

        return SqliteOnlineStore(uri.removeprefix("sqlite:///"))
    if uri.startswith(("redis://", "rediss://", "unix://")):
        from cairn.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(uri)
    raise ConfigError(
        f"online store {uri!r}: use sqlite:///path or redis://host:port/db",
        field="online_store",
        value=uri,
    )
