"""Actions from an OpenAPI 3 document (actions.openapi_import, services.actions_import,
``POST /api/v1/actions/import``)."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from actions.models import Action
from actions.openapi_import import NotOpenAPI, operations_read
from tests.webhooks.test_api import client_for, send

pytestmark = pytest.mark.django_db


def _document(server: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": server}],
        "components": {
            "schemas": {
                "Ticket": {
                    "type": "object",
                    "required": ["subject"],
                    "properties": {
                        "subject": {"type": "string", "maxLength": 200},
                        "priority": {"$ref": "#/components/schemas/Priority"},
                    },
                },
                "Priority": {"type": "string", "enum": ["low", "high"]},
            },
            "parameters": {"Lang": {"name": "lang", "in": "query", "schema": {"type": "string"}}},
        },
        "paths": {
            "/orders/{order_id}": {
                "parameters": [{"$ref": "#/components/parameters/Lang"}],
                "get": {
                    "operationId": "getOrder",
                    "summary": "Where an order is",
                    "description": "Its status and carrier.",
                    "parameters": [
                        {
                            "name": "order_id",
                            "in": "path",
                            "schema": {"type": "string"},
                            "description": "The number",
                        },
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    ],
                },
            },
            "/tickets": {
                "post": {
                    "operationId": "open ticket!",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}}
                    },
                }
            },
        },
    }


def test_operations_become_action_definitions():
    get_order, open_ticket = operations_read(_document("https://shop.example.com/api/v2"))
    assert get_order == {
        "name": "getOrder",
        "title": "Where an order is",
        "description": "Where an order is Its status and carrier.",
        "parameters": {
            "type": "object",
            "properties": {
                "lang": {"type": "string"},
                "order_id": {"type": "string", "description": "The number"},
            },
            "required": ["order_id"],
        },
        "method": "GET",
        "url": "https://shop.example.com/api/v2/orders/{order_id}",
    }
    assert open_ticket["name"] == "open_ticket" and open_ticket["method"] == "POST"
    assert open_ticket["url"] == "https://shop.example.com/api/v2/tickets"
    assert open_ticket["parameters"]["properties"]["priority"] == {"type": "string", "enum": ["low", "high"]}
    assert open_ticket["parameters"]["required"] == ["subject"]


@pytest.mark.parametrize(
    "document",
    [
        {"swagger": "2.0"},
        {"openapi": "3.0.0", "paths": {}},
        {"openapi": "3.0.0", "servers": [{"url": "/api"}]},
        [],
    ],
)
def test_what_is_not_an_openapi_3_document_is_refused(document):
    with pytest.raises(NotOpenAPI):
        operations_read(document)


def test_import_through_the_api(tenant_a, endpoint):
    client = client_for(tenant_a)
    document = _document(endpoint.url)
    checked = send(client, "post", "/api/v1/actions/import", {"document": document, "dry_run": True})
    assert checked.status_code == 200, checked.content
    assert [(r["name"], r["id"], r["problems"]) for r in checked.json()] == [
        ("getOrder", None, {}),
        ("open_ticket", None, {}),
    ]
    with tenant_context(tenant_a.tenant):
        assert not Action.objects.exists()
    body = {"document": document, "operations": ["getOrder"], "headers": {"Authorization": "Bearer k"}}
    [created] = send(client, "post", "/api/v1/actions/import", body).json()
    assert created["name"] == "getOrder" and created["id"]
    again = send(client, "post", "/api/v1/actions/import", {"document": document}).json()
    assert [r["name"] for r in again if r["id"]] == ["open_ticket"]
    [refused] = [r for r in again if not r["id"]]
    assert refused["problems"]["name"][0]["code"] == "unique"
    with tenant_context(tenant_a.tenant):
        action = Action.objects.get(name="getOrder")
        assert action.headers and action.parameters["required"] == ["order_id"]
    bad = send(client, "post", "/api/v1/actions/import", {"document": {"openapi": "2"}})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"document"}


def test_a_recursive_schema_does_not_loop():
    document = _document("https://shop.example.com")
    document["components"]["schemas"]["Ticket"]["properties"]["parent"] = {
        "$ref": "#/components/schemas/Ticket"
    }
    _, ticket = operations_read(document)
    assert ticket["parameters"]["properties"]["parent"] == {}  # met again inside itself: anything


def test_references_fanning_out_stay_within_a_budget():
    """Eight properties each naming the next level, seven levels: expanded in full it would
    be millions of nodes; the import stops at its budget."""
    document = _document("https://shop.example.com")
    schemas = document["components"]["schemas"]
    for level in range(7):
        schemas[f"L{level}"] = {
            "type": "object",
            "properties": {f"p{n}": {"$ref": f"#/components/schemas/L{level + 1}"} for n in range(8)},
        }
    schemas["L7"] = {"type": "string"}
    document["paths"]["/tickets"]["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/L0"
    }
    _, ticket = operations_read(document)
    assert len(json.dumps(ticket)) < 200_000


@pytest.mark.parametrize(
    "junk",
    [
        {"requestBody": "x"},
        {"requestBody": {"content": {"application/json": {"schema": "string"}}}},
        {
            "requestBody": {
                "content": {"application/json": {"schema": {"type": "object", "properties": ["a"]}}}
            }
        },
        {"parameters": 7},
        {"parameters": [{"name": "q", "in": "query", "schema": "string"}, "x", 3]},
    ],
)
def test_a_malformed_operation_is_read_without_failing(junk):
    document = _document("https://shop.example.com")
    document["paths"]["/tickets"]["post"] = {"operationId": "t", **junk}
    names = [o["name"] for o in operations_read(document)]
    assert names == ["getOrder", "t"]
