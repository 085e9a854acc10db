"""Tenancy core: tenants, domains, the schema pool, users, memberships, platform audit log."""
