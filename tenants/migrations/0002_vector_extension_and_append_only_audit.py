"""pgvector in the public schema, and an append-only platform audit log.

The extension is created here, by a SHARED app, so it lands in ``public`` once; created
from a tenant app it would land in the first tenant's schema and every other tenant
would fail with ``type "vector" does not exist``.
"""

from django.db import migrations
from pgvector.django import VectorExtension

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tenants_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the platform audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_audit_append_only
    BEFORE UPDATE OR DELETE ON tenants_platformauditevent
    FOR EACH ROW EXECUTE FUNCTION tenants_audit_append_only();

CREATE TRIGGER tenants_audit_no_truncate
    BEFORE TRUNCATE ON tenants_platformauditevent
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_audit_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS tenants_audit_no_truncate ON tenants_platformauditevent;
DROP TRIGGER IF EXISTS tenants_audit_append_only ON tenants_platformauditevent;
DROP FUNCTION IF EXISTS tenants_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        VectorExtension(),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
