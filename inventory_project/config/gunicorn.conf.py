"""Gunicorn for the inventory service: the shared DriveNow defaults, on port 3131."""
import os

from drivenow_servicekit.gunicorn_hooks import *  # noqa: F403

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:3131")
proc_name = "inventory"
