"""Inventory in production: the shared production overrides over the inventory base."""
from .base import *  # noqa: F403

from drivenow_servicekit.production_settings import *  # noqa: F403, E402
