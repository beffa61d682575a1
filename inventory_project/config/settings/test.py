"""Inventory under test: the throwaway cluster the test command starts."""
from drivenow_servicekit import test_settings

from .base import *  # noqa: F403

test_settings.apply(globals())
