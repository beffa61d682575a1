"""Token authentication that does not cost three queries on every request.

DRF's TokenAuthentication looks the token up (one query) and, for a permission check, Django loads the user's
and the groups' permissions (two more) — on every request, for the same few machine and staff tokens. Here a
verified token is remembered in the process for a short time, together with its user (whose permission cache
then survives between requests). The price: a deleted token or a deactivated user keeps working for at most
DJANGO_TOKEN_CACHE_SECONDS (default 30; 0 turns the cache off). Unknown tokens are never cached.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

# What a key in authtoken's column can be: visible ASCII, no longer than the column (fullmatch). Anything else names
# no token, and asking PostgreSQL about it could fail (a NUL is no text it takes): refused without a query.
_TOKEN_KEY = re.compile(r"[\x21-\x7e]{1,40}")


class _TTLCache:
    """A small thread-safe LRU with expiry, per process."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Any, ttl: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


token_cache = _TTLCache()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not _TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        ttl = float(getattr(settings, "DRIVENOW_TOKEN_CACHE_SECONDS", 30))
        if ttl <= 0:
            return super().authenticate_credentials(key)
        cached: tuple[Any, Any] | None = token_cache.get(key)
        if cached is not None:
            return cached
        user, token = super().authenticate_credentials(key)
        token_cache.put(key, (user, token), ttl)
        return user, token
