"""URLs of tenant hosts (<slug>.<BASE_DOMAIN> and custom domains)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants import views as tenant_views

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.errors.handler500"

urlpatterns = [
    path("", tenant_views.root, name="root"),
    path("login/", tenant_views.TenantLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("dashboard/", tenant_views.dashboard, name="dashboard"),
]
