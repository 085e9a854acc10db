"""Single sign-on's routes: the settings page on workspace hosts; the way in (an address,
then the provider) and the callback on the public host."""

from saas.routes import endpoint, page

from . import views

app_name = "sso"

public_urlpatterns = [
    page("sso/", views.start, name="start"),
    endpoint("sso/callback", views.callback, name="callback"),
]

tenant_urlpatterns = [
    page("dashboard/settings/sso/", views.configuration, name="configuration"),
    endpoint("dashboard/settings/sso/remove", views.remove, name="remove"),
]
