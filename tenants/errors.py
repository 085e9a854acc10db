"""Errors the tenancy layer answers with (codes listed in docs/api-errors.md)."""

from saas.errors import ProblemError, ServiceUnavailable, ValidationFailed


class SlugInvalid(ValidationFailed):
    code = "slug_invalid"
    title = "This subdomain cannot be used"


class SlugTaken(ValidationFailed):
    code = "slug_taken"
    title = "This subdomain is already taken"


def slug_taken() -> SlugTaken:
    """The error for a slug someone has (the signup form shows it under the field)."""
    message = "This subdomain is already taken."
    return SlugTaken(message, errors={"slug": [{"code": "slug_taken", "message": message}]})


class TenantSuspended(ProblemError):
    status = 403
    code = "tenant_suspended"
    title = "Workspace suspended"


class TenantProvisioning(ServiceUnavailable):
    code = "tenant_provisioning"
    title = "Workspace is being prepared"


class ProvisioningFailed(ServiceUnavailable):
    code = "provisioning_failed"
    title = "The workspace could not be created"


class LastOwner(ProblemError):
    status = 409
    code = "last_owner"
    title = "A workspace needs at least one owner"


class InvitationInvalid(ProblemError):
    status = 404
    code = "invitation_invalid"
    title = "This invitation link is not valid"


class InvitationExpired(ProblemError):
    status = 410
    code = "invitation_expired"
    title = "This invitation has expired"


class InvitationUsed(ProblemError):
    status = 410
    code = "invitation_used"
    title = "This invitation has already been used"


class RoleNotAllowed(ProblemError):
    status = 403
    code = "role_not_allowed"
    title = "Your role cannot do this"
