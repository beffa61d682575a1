"""Developer machine: an insecure key and the local cluster of `deploy/local/run.sh`."""

from config.env import env, env_bool

from .base import *

DEBUG = env_bool("DJANGO_DEBUG", False)  # DJANGO_DEBUG=true for tracebacks in the browser
SECRET_KEY = env("DJANGO_SECRET_KEY", "local-insecure-key-only-for-development-0123456789abcdef")
# Static files straight from the apps, so a fresh checkout serves the admin and docs without collectstatic.
WHITENOISE_USE_FINDERS = True
