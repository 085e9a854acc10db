"""URLs of the billing app: the Stripe webhook (public host) and the billing page with its
actions (tenant hosts)."""

from saas.routes import endpoint, legacy, page

from . import views

app_name = "billing"

public_urlpatterns = [
    endpoint("billing/stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    legacy(
        "billing/stripe/webhook/",
        views.stripe_webhook,
        name="stripe-webhook-legacy",
        reason="the address Stripe endpoints were registered with before the trailing-slash rule",
    ),
]

tenant_urlpatterns = [
    page("dashboard/billing/", views.billing_page, name="page"),
    endpoint("dashboard/billing/checkout", views.billing_checkout, name="checkout"),
    endpoint("dashboard/billing/portal", views.billing_portal, name="portal"),
]
