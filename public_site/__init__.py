"""The public host's pages: home, pricing, docs, signup and login."""
