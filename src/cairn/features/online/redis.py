"""The scale-out online store: one Redis string per entity per view version.

Reads are one GET (one entity) or one MGET (many). Writes go in batches through a Lua script
that keeps the newer record per key, so concurrent or replayed materializations never move a
value back in time. ``redis`` is an optional dependency (``pip install 'cairn[redis]'``),
imported only when this backend is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.errors import ConfigError
from cairn.features.online.base import OnlineStore

# KEYS: the keys; ARGV: their records. A record replaces the stored one if its 16-byte header
# (event time, arrival) is not smaller, compared as bytes.
_KEEP_NEWER = """
local written = 0
for i, key in ipairs(KEYS) do
  local new = ARGV[i]
  local old = redis.call('GETRANGE', key, 0, 15)
  if old == '' or string.sub(new, 1, 16) >= old then
    redis.call('SET', key, new)
    written = written + 1
  end
end
return written
"""
_BATCH = 2_000


class RedisOnlineStore(OnlineStore):
    def __init__(self, uri: str, prefix: str = "cairn:") -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                f"online store {uri!r} needs the redis client: pip install 'cairn[redis]'",
                field="online_store",
                value=uri,
            ) from exc
        self.uri = uri
        self.prefix = prefix
        self._client = redis.Redis.from_url(uri)
        self._keep_newer = self._client.register_script(_KEEP_NEWER)

    def _key(self, namespace: str, key: str) -> str:
        return f"{self.prefix}{namespace}:{key}"

    def write(self, namespace: str, keys: Sequence[str], records: Sequence[bytes]) -> int:
        written = 0
        pipe = self._client.pipeline(transaction=False)
        for start in range(0, len(keys), _BATCH):
            chunk = [self._key(namespace, k) for k in keys[start : start + _BATCH]]
            self._keep_newer(keys=chunk, args=records[start : start + _BATCH], client=pipe)
        for count in pipe.execute():
            written += int(count)
        return written

    def read_one(self, namespace: str, key: str) -> bytes | None:
        return self._client.get(self._key(namespace, key))

    def read(self, namespace: str, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return self._client.mget([self._key(namespace, k) for k in keys])

    def drop(self, namespace: str) -> None:
        batch = []
        for key in self._client.scan_iter(match=f"{self.prefix}{namespace}:*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)

    def close(self) -> None:
        self._client.close()
