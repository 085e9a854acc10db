"""Outbound webhooks: a workspace's endpoints, the events of its conversations, contacts
and knowledge sent to them signed the Standard Webhooks way, with retries (docs/webhooks.md)."""
