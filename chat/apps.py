from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from tenants.selectors import counted_model_register

        from .models import Conversation

        counted_model_register("conversations", Conversation)
