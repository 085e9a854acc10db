from django.db.models.signals import m2m_changed, post_delete, post_save

# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class ChatConfig(tenancy.ContributingAppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # Models load after the app configs (apps.py is imported first).
        from knowledge.models import KnowledgeBase

        from .models import AutomationRule, BotSettings
        from .selectors import bot_snapshot_forget

        def forget(sender, instance, **kwargs):
            # A knowledge base's side of the links (no widget): every bot of the schema.
            bot_snapshot_forget(getattr(instance, "widget_id", None))

        for model in (BotSettings, AutomationRule):
            post_save.connect(
                forget, sender=model, dispatch_uid=f"bot-snapshot-save-{model.__name__}", weak=False
            )
            post_delete.connect(
                forget, sender=model, dispatch_uid=f"bot-snapshot-delete-{model.__name__}", weak=False
            )
        m2m_changed.connect(
            forget,
            sender=BotSettings.knowledge_bases.through,
            dispatch_uid="bot-snapshot-knowledge",
            weak=False,
        )

        def forget_all(sender, instance, **kwargs):
            bot_snapshot_forget(None)  # its links to bots went by cascade, without signals

        post_delete.connect(
            forget_all, sender=KnowledgeBase, dispatch_uid="bot-snapshot-knowledge-base", weak=False
        )

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from widget_builder.selectors import widget_first_url

        from .file_context import FileTools
        from .inbox import unread_badge
        from .models import Conversation
        from .selectors import ai_answers_per_day, messages_per_day

        return tenancy.Contributions(
            daily_counts={"messages": messages_per_day, "ai_answers": ai_answers_per_day},
            nav_badges={"conversations": unread_badge},
            counted_models={"conversations": Conversation},
            answer_tools=FileTools(),  # query_table over a visitor's tables (docs/files.md)
            onboarding_steps=(
                tenancy.OnboardingStep(
                    "test_chat",
                    "Test a chat",
                    40,
                    lambda: Conversation.objects.exists(),
                    "Ask your bot a question the way a visitor would.",
                    lambda: widget_first_url("chat:playground"),
                ),
            ),
        )
