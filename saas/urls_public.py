"""URLs of the public host (BASE_DOMAIN). Each app owns its routes in ``<app>/urls.py``
(``public_urlpatterns``, under the app's namespace); this conf only includes them.
/healthz and /readyz are answered by middleware."""

from django.contrib import admin
from django.urls import include, path

from actions import urls as actions
from billing import urls as billing
from chat import urls as chat
from insights import urls as insights
from public_site import urls as public_site
from sso import urls as sso
from ui import urls as ui
from widget_builder import urls as widget_builder

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.database_outage.handler500"

admin.site.site_header = "Platform administration"
admin.site.site_title = "Platform admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include((public_site.public_urlpatterns, public_site.app_name))),
    # allauth reverses its own names without a namespace; public_site's signup comes first.
    path("accounts/", include("allauth.urls")),
    path("", include((billing.public_urlpatterns, billing.app_name))),
    path("", include((widget_builder.public_urlpatterns, widget_builder.app_name))),
    path("", include((chat.public_urlpatterns, chat.app_name))),
    path("", include((insights.public_urlpatterns, insights.app_name))),
    path("", include((actions.public_urlpatterns, actions.app_name))),
    path("", include((ui.public_urlpatterns, ui.app_name))),
    path("", include((sso.public_urlpatterns, sso.app_name))),
]
