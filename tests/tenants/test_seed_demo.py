"""manage.py seed_demo (what ``make run`` seeds): the demo owner can sign in and reach the
demo workspace."""

from __future__ import annotations

import pytest

from tests.hosts import PUBLIC_HOST, follow_across_hosts

pytestmark = pytest.mark.django_db


def test_demo_owner_from_make_run_can_sign_in_and_reach_the_demo(client, seeded):
    from django.conf import settings
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = client.post(
        "/accounts/login/",
        {"login": settings.DEMO_OWNER_EMAIL, "password": settings.DEMO_OWNER_PASSWORD},
        HTTP_HOST=PUBLIC_HOST,
    )
    page = follow_across_hosts(client, response)
    assert page.status_code == 200
    assert page.wsgi_request.get_host() == "demo.saas.test"
