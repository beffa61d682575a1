"""Reading the environment in settings: typed, with defaults, once."""

from __future__ import annotations

import os


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return default if value is None else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate, "<n>/<s|min|hour|day>", or off/none/0 for no limit (None)."""
    value = (env(name, default) or "").strip()
    if value.lower() in {"", "off", "none", "0", "unlimited"}:
        return None
    number, _, period = value.partition("/")
    if not number.isdigit() or int(number) <= 0 or not period or period[0] not in "smhd":
        raise ValueError(f"{name} is '<n>/<s|min|hour|day>' or 'off', not {value!r}")
    return value
