"""Foundation shared by every layer: settings, identifiers, time."""

from cairn.core.config import Settings, settings
from cairn.core.ids import new_id
from cairn.core.timeutil import from_ms, now_ms

__all__ = ["Settings", "from_ms", "new_id", "now_ms", "settings"]
