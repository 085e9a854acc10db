"""django-tenants' PostgreSQL backend, with a short wait for a pooled connection while the
database is down (saas.database_outage): a request during an outage is answered 503 at
once instead of after the pool's timeout, which is sized for a busy pool, not a dead one."""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

from saas.database_outage import DATABASE, OUTAGE_POOL_TIMEOUT_S
from saas.dependency_state import is_down


class DatabaseWrapper(TenantDatabaseWrapper):  # type: ignore[misc]  # django-tenants ships no types
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool = self.pool
        if pool is not None:
            options = self.settings_dict["OPTIONS"]["pool"]
            configured = float(options.get("timeout", 30.0)) if isinstance(options, dict) else 30.0
            # The pool's timeout is what getconn() waits when given none (Django gives none).
            pool.timeout = min(configured, OUTAGE_POOL_TIMEOUT_S) if is_down(DATABASE) else configured
        return super().get_new_connection(conn_params)
