"""``migrate`` is ``migrate_schemas`` (public and every tenant), as with django-tenants."""

from .migrate_schemas import Command  # noqa: F401
