"""URLs of tenant hosts (<slug>.<BASE_DOMAIN> and custom domains). Each app owns its routes
in ``<app>/urls.py`` (``tenant_urlpatterns``, under the app's namespace); this conf only
includes them."""

from django.urls import include, path

from actions import urls as actions
from assist import urls as assist
from audit import urls as audit
from billing import urls as billing
from chat import urls as chat
from exports import urls as exports
from insights import urls as insights
from knowledge import urls as knowledge
from privacy import urls as privacy
from quality import urls as quality
from reports import urls as reports
from retention import urls as retention
from sso import urls as sso
from tenants import urls as tenants
from ui import urls as ui
from webhooks import urls as webhooks
from widget_builder import urls as widget_builder

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.database_outage.handler500"

urlpatterns = [
    path("", include((app.tenant_urlpatterns, app.app_name)))
    for app in (
        tenants,
        billing,
        widget_builder,
        chat,
        exports,
        knowledge,
        insights,
        quality,
        reports,
        retention,
        assist,
        webhooks,
        actions,
        sso,
        privacy,
        audit,
        ui,
    )
]
