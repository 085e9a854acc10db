"""Indexes on the chat tables for what the analytics read live (today's rows) and what the
rollup looks for (rows changed since its last run). The chat app's models do not declare
them: they serve this app's reads only, and drop with this app's migrations."""

from django.db import migrations

INDEXES = {
    "insights_message_created_idx": "chat_message (created_at)",
    "insights_message_feedback_idx": "chat_message (feedback_at) WHERE feedback_at IS NOT NULL",
    "insights_conv_handoff_idx": "chat_conversation (handoff_requested_at) WHERE handoff_requested_at IS NOT NULL",
    "insights_conv_closed_idx": "chat_conversation (closed_at) WHERE closed_at IS NOT NULL",
    "insights_conv_csat_idx": "chat_conversation (csat_at) WHERE csat_at IS NOT NULL",
    "insights_conv_updated_idx": "chat_conversation (updated_at)",
}


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_initial"), ("chat", "0008_live_inbox")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {target}",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, target in INDEXES.items()
    ]
