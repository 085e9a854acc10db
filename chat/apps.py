from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.selectors import counted_model_register

        from .models import Conversation

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
