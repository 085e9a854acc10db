"""LLM providers behind one small interface (``base.Provider``): Anthropic, OpenAI, any
OpenAI-compatible server, and the offline provider that quotes the knowledge base.
``resilience`` wraps every call in a deadline, bounded retries and a circuit breaker;
``registry.provider_for`` picks the provider a bot is configured for. The SDK clients come from
``saas.outbound.sdk``: a tenant's server is reached only through the guarded transport."""
