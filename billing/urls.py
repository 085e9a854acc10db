"""URLs of the billing app: the Stripe webhook (public host) and the billing page with its
actions (tenant hosts)."""

from django.urls import path

from . import views

app_name = "billing"

public_urlpatterns = [
    path("billing/stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    # The address Stripe endpoints were registered with before the trailing-slash rule.
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe-webhook-legacy"),
]

tenant_urlpatterns = [
    path("dashboard/billing/", views.billing_page, name="page"),
    path("dashboard/billing/checkout", views.billing_checkout, name="checkout"),
    path("dashboard/billing/portal", views.billing_portal, name="portal"),
]
