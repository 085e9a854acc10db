"""URLs of the actions app (tenant hosts): the REST resources (``actions.apis``)."""

from saas.routes import endpoint

from . import apis

API = "api/v1/actions/<uuid:action_id>"

app_name = "actions"

tenant_urlpatterns = [
    endpoint("api/v1/actions", apis.ActionListApi.as_view(), name="api-actions"),
    endpoint("api/v1/actions/import", apis.ActionImportApi.as_view(), name="api-import"),
    endpoint(API, apis.ActionDetailApi.as_view(), name="api-action"),
    endpoint(API + "/secret", apis.ActionSecretApi.as_view(), name="api-secret"),
    endpoint(API + "/rotate-secret", apis.ActionSecretRotateApi.as_view(), name="api-rotate-secret"),
    endpoint(API + "/test", apis.ActionTestApi.as_view(), name="api-test"),
    endpoint(API + "/calls", apis.ActionCallListApi.as_view(), name="api-calls"),
]
