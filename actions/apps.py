from tenants import contributions as tenancy


class ActionsConfig(tenancy.ContributingAppConfig):
    name = "actions"
    verbose_name = "AI actions"

    def ready(self) -> None:
        # The receivers import models, which load after the app configs.
        from . import receivers

        receivers.connect()

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from .tools import ActionTools

        return tenancy.Contributions(answer_tools=ActionTools())
