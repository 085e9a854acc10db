from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        from billing.selectors import usage_measure_register
        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.initializers import workspace_initializer_register

        from .models import Document, Source
        from .services import knowledge_base_ensure_default, knowledge_storage_mb

        workspace_initializer_register("knowledge.default_base", knowledge_base_ensure_default)
        usage_measure_register("storage_mb", knowledge_storage_mb)
        usage_measure_register("pages", Document.objects.count)
        onboarding_step_register(
            OnboardingStep(
                "add_knowledge",
                "Add knowledge",
                20,
                lambda: Source.objects.exists(),
                "Upload documents, add your website or write Q&A pairs.",
            )
        )
