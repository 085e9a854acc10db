"""URLs of tenant hosts (<slug>.<BASE_DOMAIN> and custom domains)."""

from django.urls import path

from tenants import views as tenant_views

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.errors.handler500"

urlpatterns = [
    path("", tenant_views.root, name="root"),
    path("login/", tenant_views.sign_in, name="login"),
    path("auth/handoff", tenant_views.handoff, name="handoff"),
    path("logout/", tenant_views.sign_out, name="logout"),
    path("dashboard/", tenant_views.dashboard, name="dashboard"),
    path("dashboard/team/", tenant_views.team, name="team"),
    path("dashboard/<slug:key>/", tenant_views.section, name="dashboard-section"),
]
