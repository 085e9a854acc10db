"""Agent assist in the inbox (a suggested reply from the knowledge base with its citations,
a summary of the conversation, a rewrite of the agent's draft) and two-way translation
between visitors and agents. Every call goes through the provider the conversation's bot
uses (``chat.llm.registry.provider_for``), counted as an AI answer; docs/assist.md."""
