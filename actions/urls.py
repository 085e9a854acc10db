"""URLs of the actions app: the REST resources (``actions.apis``, tenant hosts) and the
visitor's answers to a card (``actions.widget_api``, the public host's widget API)."""

from saas.routes import endpoint

from . import apis, widget_api

API = "api/v1/actions/<uuid:action_id>"

app_name = "actions"
CARD = (
    "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/confirmations/<uuid:confirmation_id>/"
)

widget_api_urlpatterns = [
    endpoint(CARD + "confirm", widget_api.ConfirmApi.as_view(), name="widget-confirm"),
    endpoint(CARD + "submit", widget_api.SubmitApi.as_view(), name="widget-submit"),
    endpoint(CARD + "cancel", widget_api.CancelApi.as_view(), name="widget-cancel"),
]
public_urlpatterns = [*widget_api_urlpatterns]

tenant_urlpatterns = [
    endpoint("api/v1/actions", apis.ActionListApi.as_view(), name="api-actions"),
    endpoint("api/v1/actions/import", apis.ActionImportApi.as_view(), name="api-import"),
    endpoint(API, apis.ActionDetailApi.as_view(), name="api-action"),
    endpoint(API + "/secret", apis.ActionSecretApi.as_view(), name="api-secret"),
    endpoint(API + "/rotate-secret", apis.ActionSecretRotateApi.as_view(), name="api-rotate-secret"),
    endpoint(API + "/test", apis.ActionTestApi.as_view(), name="api-test"),
    endpoint(API + "/calls", apis.ActionCallListApi.as_view(), name="api-calls"),
]
