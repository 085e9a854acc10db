"""Plans, quotas, Stripe subscriptions and usage metering (public schema)."""
