"""The root icons, on every host (public and tenant URL confs include them)."""

from saas.routes import endpoint

from . import views

app_name = "ui"

urlpatterns = [
    endpoint(name, views.root_icon, {"name": name}, name=name.split(".")[0]) for name in views.ROOT_ICONS
]
public_urlpatterns = tenant_urlpatterns = urlpatterns
