"""The workspace API's Idempotency-Key (a tenant app: the first answers are the tenant's
data, kept in its schema). ``store`` claims a key, keeps a finished call's answer and
answers a retry with it; ``tenants.api_base.TenantAPIView`` applies it to every POST."""
