"""``django.db.connection`` with the attributes django-tenants' database backend gives it.

The backend (``django_tenants.postgresql_backend``) keeps the active schema and tenant on
the connection, but Django's stubs know the connection only as a plain database wrapper.
Importing ``connection`` from here instead of ``django.db`` gives the type checker those
attributes; at run time it is the very same object (a per-thread proxy), nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from django.db import connection as _connection

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class SchemaOwner(Protocol):
    """A ``Tenant``, or django-tenants' stand-in for a schema with no tenant (the public one)."""

    @property
    def schema_name(self) -> str: ...


if TYPE_CHECKING:

    class TenantDatabaseWrapper(BaseDatabaseWrapper):
        # Always set: the backend enters the public schema when the connection is made.
        schema_name: str
        tenant: SchemaOwner

        def set_tenant(self, tenant: SchemaOwner, include_public: bool = True) -> None: ...

        def set_schema(self, schema_name: str, include_public: bool = True) -> None: ...

        def set_schema_to_public(self) -> None: ...


connection = cast("TenantDatabaseWrapper", _connection)

__all__ = ["SchemaOwner", "connection"]
