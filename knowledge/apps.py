from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.initializers import workspace_initializer_register

        from .models import Source
        from .services import knowledge_base_ensure_default

        workspace_initializer_register("knowledge.default_base", knowledge_base_ensure_default)
        onboarding_step_register(
            OnboardingStep(
                "add_knowledge",
                "Add knowledge",
                20,
                lambda: Source.objects.exists(),
                "Upload documents, add your website or write Q&A pairs.",
            )
        )
