"""Realtime: WebSockets for agents and visitors (Channels), and the wake-ups the services
publish after they commit. The database is the truth; the channel layer only tells sockets
that something changed, so a lost wake-up costs latency, never a message."""
