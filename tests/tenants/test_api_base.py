"""TenantAPIView owns the rows a view reaches: scoping to the host's tenant, refusals when a
class is created, and the one named bypass."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from tenants.api_base import TenantAPIView, TenantRolePermission
from tenants.models import ApiKey, Invitation, Membership, User
from tests.tenants.factories import ApiKeyFactory, InvitationFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


# --- refused when the class is created ----------------------------------------------------------


@pytest.mark.parametrize("method", ["get_queryset", "get_object", "tenant_queryset", "initial"])
def test_a_view_that_redoes_scoping_is_refused_at_import_time(method):
    with pytest.raises(TypeError, match=rf"defines {method}\(\).*dangerously_get_queryset"):
        type("Sneaky", (TenantAPIView,), {"queryset": Membership.objects.all(), method: lambda self: None})


def test_a_mixin_cannot_bring_its_own_scoping_either():
    class Unscoped:
        def get_queryset(self):
            return Membership.objects.all()

    with pytest.raises(TypeError, match=r"defines get_queryset\(\)"):

        class Mixed(Unscoped, TenantAPIView):
            queryset = Membership.objects.all()


def test_a_view_that_drops_the_role_check_is_refused():
    with pytest.raises(TypeError, match="TenantRolePermission"):

        class Open(TenantAPIView):
            permission_classes = [AllowAny]

    class Stricter(TenantRolePermission):
        pass

    class Kept(TenantAPIView):  # a stricter role check of its own is fine
        permission_classes = [Stricter]


def test_a_public_model_without_a_way_to_its_tenant_is_refused():
    with pytest.raises(TypeError, match=r"public schema.*declare tenant_field"):

        class Users(TenantAPIView):
            queryset = User.objects.all()

    with pytest.raises(TypeError, match="no field 'nope'"):

        class Typo(TenantAPIView):
            queryset = User.objects.all()
            tenant_field = "nope__tenant"

    with pytest.raises(TypeError, match="does not lead to Tenant"):

        class Elsewhere(TenantAPIView):
            queryset = User.objects.all()
            tenant_field = "memberships__user"

    class UsersOfTheTenant(TenantAPIView):  # declared: accepted
        queryset = User.objects.all()
        tenant_field = "memberships__tenant"

    # From a membership (one tenant's row) to its user (shared) and back out through the
    # user's memberships: every workspace of that user. Refused.
    with pytest.raises(TypeError, match="goes back through a shared row"):

        class MembersOfEveryWorkspace(TenantAPIView):
            queryset = Membership.objects.all()
            tenant_field = "user__memberships__tenant"


@pytest.mark.parametrize(
    "method", ["get_permissions", "check_permissions", "check_object_permissions", "get_authenticators"]
)
def test_a_view_that_brings_its_own_access_checks_is_refused(method):
    with pytest.raises(TypeError, match=rf"defines {method}\(\)"):
        type("Open", (TenantAPIView,), {"queryset": Membership.objects.all(), method: lambda self: []})


def test_a_class_changed_after_it_was_created_is_refused_when_routed():
    class Later(TenantAPIView):
        queryset = Membership.objects.all()

    Later.get_queryset = lambda self: Membership.objects.all()  # e.g. by a class decorator
    with pytest.raises(TypeError, match=r"defines get_queryset\(\)"):
        Later.as_view()


def test_a_tenant_schema_model_takes_no_tenant_field():
    with pytest.raises(TypeError, match="lives in each tenant's schema"):

        class Widgets(TenantAPIView):
            queryset = Widget.objects.all()
            tenant_field = "tenant"


# --- scoping ------------------------------------------------------------------------------------


class MemberProbe(TenantAPIView):
    queryset = Membership.objects.select_related("user")
    lookup_url_kwarg = "member_id"

    def get(self, request, member_id=None):
        if member_id is None:
            return Response(sorted(m.user.email for m in self.get_queryset()))
        return Response(self.get_object().user.email)


class WidgetProbe(TenantAPIView):
    queryset = Widget.objects.all()

    def get(self, request, pk=None):
        if pk is None:
            return Response(sorted(w.name for w in self.get_queryset()))
        return Response(self.get_object().name)


class WideningInvitations(TenantAPIView):
    """A narrow_queryset that ignores what it is given."""

    queryset = Invitation.objects.all()

    def narrow_queryset(self, queryset):
        return Invitation.objects.all()

    def get(self, request):
        return Response(sorted(i.email for i in self.get_queryset()))


class NarrowedInvitations(TenantAPIView):
    queryset = Invitation.objects.all()

    def narrow_queryset(self, queryset):
        return queryset.filter(email__startswith=self.request.query_params.get("prefix", ""))

    def get(self, request):
        return Response(sorted(i.email for i in self.get_queryset()))


class KeysAndMembers(TenantAPIView):
    """Reads a second model through the helper."""

    def get(self, request):
        keys = self.tenant_queryset(ApiKey).values_list("name", flat=True)
        members = self.tenant_queryset(Membership.objects.select_related("user"))
        return Response({"keys": sorted(keys), "members": sorted(m.user.email for m in members)})


class EveryMembership(TenantAPIView):
    """The named bypass: rows that are not the tenant's, on purpose."""

    queryset = Membership.objects.all()
    lookup_url_kwarg = "member_id"

    def dangerously_get_queryset(self):
        return Membership.objects.select_related("user")

    def get(self, request, member_id):
        return Response(self.get_object().user.email)


def _call(view, seeded_tenant, user, **kwargs):
    request = APIRequestFactory().get("/api/v1/probe", HTTP_HOST=seeded_tenant.host)
    request.tenant = seeded_tenant.tenant
    force_authenticate(request, user=user)
    return view.as_view()(request, **kwargs)


def test_public_rows_are_the_hosts_tenants_only(tenant_a, tenant_b):
    assert _call(MemberProbe, tenant_a, tenant_a.owner).data == [tenant_a.owner.email]
    b_member = Membership.objects.get(tenant=tenant_b.tenant)
    assert _call(MemberProbe, tenant_a, tenant_a.owner, member_id=b_member.pk).status_code == 404
    a_member = Membership.objects.get(tenant=tenant_a.tenant)
    assert _call(MemberProbe, tenant_a, tenant_a.owner, member_id=a_member.pk).data == tenant_a.owner.email
    # An id that is not one at all: 404 too, never a 500.
    assert _call(MemberProbe, tenant_a, tenant_a.owner, member_id="x").status_code == 404


def test_tenant_schema_rows_come_from_the_requests_schema_only(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        names = _call(WidgetProbe, tenant_a, tenant_a.owner).data
        a_widget = Widget.objects.first()
    assert len(names) == tenant_a.widget_count and all(n.startswith("MARKER-A") for n in names)
    with tenant_context(tenant_b.tenant):
        b_widget = Widget.objects.exclude(pk=a_widget.pk).first()
    with tenant_context(tenant_a.tenant):
        assert _call(WidgetProbe, tenant_a, tenant_a.owner, pk=b_widget.pk).status_code == 404
    # A request of A that (wrongly) runs in B's schema is served nothing of B.
    with tenant_context(tenant_b.tenant):
        response = _call(WidgetProbe, tenant_a, tenant_a.owner)
        assert response.status_code == 404 and b"MARKER-B" not in response.content
    assert connection.schema_name == "public"


def test_narrowing_starts_from_the_tenants_rows(tenant_a, tenant_b):
    owner_a = Membership.objects.get(tenant=tenant_a.tenant)
    owner_b = Membership.objects.get(tenant=tenant_b.tenant)
    InvitationFactory(tenant=tenant_a.tenant, email="x-a@example.com", role="agent", invited_by=owner_a.user)
    InvitationFactory(tenant=tenant_b.tenant, email="x-b@example.com", role="agent", invited_by=owner_b.user)
    request = APIRequestFactory().get("/api/v1/probe?prefix=x-", HTTP_HOST=tenant_a.host)
    request.tenant = tenant_a.tenant
    force_authenticate(request, user=tenant_a.owner)
    assert NarrowedInvitations.as_view()(request).data == ["x-a@example.com"]
    # Narrowing cannot widen: the tenant's rows are taken again after it.
    assert WideningInvitations.as_view()(request).data == ["x-a@example.com"]


def test_the_tenant_queryset_helper_scopes_any_model(tenant_a, tenant_b):
    for seeded in (tenant_a, tenant_b):
        ApiKeyFactory(tenant=seeded.tenant, name=f"key-{seeded.marker}")
    data = _call(KeysAndMembers, tenant_a, tenant_a.owner).data
    assert data == {"keys": ["key-MARKER-A"], "members": [tenant_a.owner.email]}


def test_the_bypass_is_named_and_reaches_other_tenants(tenant_a, tenant_b):
    b_member = Membership.objects.get(tenant=tenant_b.tenant)
    response = _call(EveryMembership, tenant_a, tenant_a.owner, member_id=b_member.pk)
    assert response.data == tenant_b.owner.email  # what the name warns about
    assert "dangerously_get_queryset" in vars(EveryMembership)
    # Every tenant API view of the app itself stays scoped.
    from tenants import apis

    for view in vars(apis).values():
        if isinstance(view, type) and issubclass(view, TenantAPIView) and view is not TenantAPIView:
            assert "dangerously_get_queryset" not in vars(view), view


def test_another_tenants_member_cannot_be_changed_through_the_api(tenant_a, tenant_b):
    b_member = Membership.objects.get(tenant=tenant_b.tenant)
    owner = Client(HTTP_HOST=tenant_a.host)
    owner.force_login(tenant_a.owner)
    response = owner.patch(
        f"/api/v1/members/{b_member.pk}", {"role": "agent"}, content_type="application/json"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Membership.objects.get(pk=b_member.pk).role == "owner"
    listed = owner.get("/api/v1/members").json()["results"]
    assert [m["email"] for m in listed] == [tenant_a.owner.email]
