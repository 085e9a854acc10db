"""What single sign-on refuses, each with its stable code (docs/api-errors.md)."""

from __future__ import annotations

from saas.errors import ProblemError


class SsoNotInPlan(ProblemError):
    status = 403
    code = "sso_not_in_plan"
    title = "Single sign-on is not in this plan"


class SsoNotConfigured(ProblemError):
    status = 404
    code = "sso_not_configured"
    title = "No single sign-on for this address"


class SsoProviderUnavailable(ProblemError):
    """The provider could not be reached, or answered something that is not OpenID Connect."""

    status = 502
    code = "sso_provider_unavailable"
    title = "The sign-in provider did not answer"


class SsoStateInvalid(ProblemError):
    """The callback does not belong to a sign-in this browser started (or it is too old)."""

    status = 400
    code = "sso_state_invalid"
    title = "This sign-in was not started here"


class SsoTokenInvalid(ProblemError):
    """The code exchange failed, or the ID token failed a check (signature, issuer,
    audience, times, nonce)."""

    status = 401
    code = "sso_token_invalid"
    title = "The sign-in could not be verified"


class SsoAccessDenied(ProblemError):
    """The person proved who they are, but may not enter this workspace."""

    status = 403
    code = "sso_access_denied"
    title = "No access to this workspace"


class SsoRequired(ProblemError):
    status = 403
    code = "sso_required"
    title = "This workspace requires single sign-on"
