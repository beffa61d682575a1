"""Gunicorn for the booking service: the shared DriveNow defaults, on port 1313."""
import os

from drivenow_servicekit.gunicorn_hooks import *  # noqa: F403

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:1313")
proc_name = "booking"
