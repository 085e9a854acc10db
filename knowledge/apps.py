# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class KnowledgeConfig(tenancy.ContributingAppConfig):
    name = "knowledge"
    verbose_name = "Knowledge"

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from django.urls import reverse

        from .models import Document, Source
        from .selectors import knowledge_storage_mb
        from .services import knowledge_base_ensure_default

        return tenancy.Contributions(
            workspace_initializers={"knowledge.default_base": knowledge_base_ensure_default},
            usage_measures={"storage_mb": knowledge_storage_mb, "pages": Document.objects.count},
            onboarding_steps=(
                tenancy.OnboardingStep(
                    "add_knowledge",
                    "Add knowledge",
                    20,
                    lambda: Source.objects.exists(),
                    "Upload documents, add your website or write Q&A pairs.",
                    lambda: reverse("knowledge:list"),
                ),
            ),
        )
