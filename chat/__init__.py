"""Conversations and messages (tenant schema), the answer pipeline and live chat."""
