from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.selectors import counted_model_register

        from .models import AutomationRule, BotSettings, Conversation
        from .selectors import bot_snapshot_forget

        def forget(sender, instance, **kwargs):
            bot_snapshot_forget(instance.widget_id)

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
        counted_model_register("conversations", Conversation)
        onboarding_step_register(
            OnboardingStep(
                "test_chat",
                "Test a chat",
                40,
                lambda: Conversation.objects.exists(),
                "Ask your bot a question the way a visitor would.",
            )
        )
