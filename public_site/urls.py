"""URLs of the public site (public host): pages, signup, the live slug check, and the way
into a workspace. allauth's own account pages are included by the project URL conf, after
these, so the signup override here wins."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "public_site"

public_urlpatterns = [
    path("", views.home, name="home"),
    path("pricing/", views.pricing, name="pricing"),
    path("docs/getting-started/", views.getting_started, name="getting-started"),
    path("docs/errors/", views.error_reference, name="error-reference"),
    path("accounts/signup/", views.SignupView.as_view(), name="signup"),
    path("login/", RedirectView.as_view(pattern_name="account_login", query_string=True), name="login"),
    path("api/public/v1/slug-check", views.slug_check, name="slug-check"),
    path("workspaces/", views.workspaces, name="workspaces"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("workspaces/<slug:slug>/open", views.workspace_open, name="workspace-open"),
]
