"""The image build: ``collectstatic`` with no secret and no service (the Dockerfile).

Production settings refuse to load without their secrets and services, and must keep
doing so at run time; the build has neither, and static files need neither: they depend
only on the installed apps, the finders and the static storage, all from ``base`` exactly
as production has them (tests/deploy/test_image_build.py compares the two). These settings
never serve: a fresh random key per process, no allowed host, a database nobody listens on.
"""

import os
import secrets

# base starts the embedded PostgreSQL when DATABASE_URL is unset; the build never connects.
os.environ.setdefault("DATABASE_URL", "postgres://build@127.0.0.1:1/build")

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = secrets.token_urlsafe(50)
ALLOWED_HOSTS = []
