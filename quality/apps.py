import logging

# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy

logger = logging.getLogger(__name__)


class QualityConfig(tenancy.ContributingAppConfig):
    name = "quality"
    verbose_name = "Answer quality"

    def ready(self) -> None:
        # Models load after the app configs (apps.py is imported first).
        from knowledge.models import knowledge_changed

        from . import services

        def changed(sender, **kwargs):
            # Runs in the ingestion's (or the deletion's) process once its work committed:
            # queueing the bot tests must never turn a finished ingestion into a failed one.
            try:
                services.bot_tests_after_knowledge_change()
            except Exception:
                logger.exception("quality: queueing the bot tests after a knowledge change failed")

        knowledge_changed.connect(changed, dispatch_uid="quality-bot-tests-after-change", weak=False)
