# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class QualityConfig(tenancy.ContributingAppConfig):
    name = "quality"
    verbose_name = "Answer quality"

    def ready(self) -> None:
        # Models load after the app configs (apps.py is imported first).
        from knowledge.models import knowledge_changed

        from .services import bot_tests_after_knowledge_change

        def changed(sender, **kwargs):
            bot_tests_after_knowledge_change()

        knowledge_changed.connect(changed, dispatch_uid="quality-bot-tests-after-change", weak=False)
