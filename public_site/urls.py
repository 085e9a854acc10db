"""URLs of the public site (public host): pages, signup, the live slug check, and the way
into a workspace. allauth's own account pages are included by the project URL conf, after
these, so the signup override here wins."""

from django.views.generic import RedirectView

from saas.routes import endpoint, page

from . import views

app_name = "public_site"

public_urlpatterns = [
    page("", views.home, name="home"),
    page("pricing/", views.pricing, name="pricing"),
    page("docs/getting-started/", views.getting_started, name="getting-started"),
    page("docs/errors/", views.error_reference, name="error-reference"),
    page("accounts/signup/", views.SignupView.as_view(), name="signup"),
    page("accounts/3rdparty/signup/", views.SocialSignupView.as_view(), name="social-signup"),
    page("login/", RedirectView.as_view(pattern_name="account_login", query_string=True), name="login"),
    endpoint("api/public/v1/slug-check", views.slug_check, name="slug-check"),
    page("workspaces/", views.workspaces, name="workspaces"),
    page("account/", views.profile, name="profile"),
    page("invitations/<str:token>/", views.invitation, name="invitation"),
    endpoint("workspaces/<slug:slug>/open", views.workspace_open, name="workspace-open"),
]
