"""What every page carries: the icons browsers ask each host for, and titles naming the
page and the workspace."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name, content_type", [("favicon.ico", "image/x-icon"), ("apple-touch-icon.png", "image/png")]
)
def test_every_host_answers_the_root_icons(tenant_a, name, content_type):
    for host in ("saas.test", tenant_a.host):
        response = Client().get(f"/{name}", HTTP_HOST=host)
        assert response.status_code == 200, host
        assert response["Content-Type"] == content_type
        assert int(response["Content-Length"]) > 100
        assert "max-age=86400" in response["Cache-Control"]


def test_pages_link_the_icons_and_dashboard_titles_name_page_and_workspace(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner, host=tenant_a.host)
    html = client.get("/dashboard/team/").content.decode()
    assert f"<title>Team · {tenant_a.tenant.name}</title>" in html
    assert 'rel="icon" href="/static/ui/favicon.svg"' in html and 'rel="apple-touch-icon"' in html
    public = Client().get("/pricing/", HTTP_HOST="saas.test").content.decode()
    assert 'rel="icon"' in public
