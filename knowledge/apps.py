from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        from tenants.initializers import workspace_initializer_register

        from .services import knowledge_base_ensure_default

        workspace_initializer_register("knowledge.default_base", knowledge_base_ensure_default)
