"""Errors the tenancy layer answers with (codes listed in docs/api-errors.md)."""

from saas.errors import ProblemError, ServiceUnavailable, ValidationFailed


class SlugInvalid(ValidationFailed):
    code = "slug_invalid"
    title = "This subdomain cannot be used"


class SlugTaken(ValidationFailed):
    code = "slug_taken"
    title = "This subdomain is already taken"


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
