from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def ready(self) -> None:
        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.initializers import workspace_initializer_register

        from .services import knowledge_base_ensure_default

        workspace_initializer_register("knowledge.default_base", knowledge_base_ensure_default)
        # Done once a knowledge base has a source; sources arrive with the knowledge issue,
        # until then the step honestly stays open.
        onboarding_step_register(
            OnboardingStep(
                "add_knowledge",
                "Add knowledge",
                20,
                lambda: False,
                "Upload documents, add your website or write Q&A pairs.",
            )
        )
