"""Settings for mypy's Django plugin (``make typecheck``): it loads the apps and their
models to type the ORM, and never connects to a database, so none is started."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://typecheck@127.0.0.1:1/typecheck")

from .test import *  # noqa: F403
