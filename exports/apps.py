# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class ExportsConfig(tenancy.ContributingAppConfig):
    name = "exports"
    verbose_name = "Exports"

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from .models import ExportJob

        # An export's file is named in a CharField (the storage reconciliation must see it).
        return tenancy.Contributions(stored_file_names={"export_files": (ExportJob, "file_name")})
