"""The dashboard's forms of AI actions: an action's fields and an MCP server's (read into what
``actions.services`` takes: the same checks as the REST API, so the rules cannot drift),
the OpenAPI import, and the test runner's inputs (fields made from the parameters' JSON
Schema, or raw JSON)."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.forms.boundfield import BoundWidget

from saas.request_body import JsonTooDeep, json_loads_bounded
from widget_builder.models import Widget

from .models import Action, McpServer

HEADER_LINES_HELP = (
    "One per line, <code>Name: value</code>. Stored encrypted and never shown again; a name "
    "already set is replaced."
)


def _json_field(value: str, what: str) -> Any:
    try:
        return json_loads_bounded(value)
    except ValueError as error:
        raise forms.ValidationError(f"Not valid JSON {what}: {error}"[:300]) from error
    except JsonTooDeep as error:
        raise forms.ValidationError(error.detail) from error


def header_lines(text: str) -> dict[str, str]:
    """``Name: value`` lines as a mapping (blank lines skipped)."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise forms.ValidationError(f"Line {number}: write it as Name: value.")
        headers[name.strip()] = value.strip()
    return headers


class _HeadersForm(forms.Form):
    """Headers as an action's or an MCP server's form takes them: the ones set, kept unless
    unticked (their values never shown), and new lines that add or replace."""

    keep_headers = forms.MultipleChoiceField(
        label="Headers kept", required=False, widget=forms.CheckboxSelectMultiple
    )
    new_headers = forms.CharField(
        label="Add or replace headers",
        required=False,
        help_text=HEADER_LINES_HELP,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "Authorization: Bearer …",
            }
        ),
    )

    def __init__(self, *args: Any, header_names: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_names = header_names or []
        cast(forms.MultipleChoiceField, self.fields["keep_headers"]).choices = [
            (n, n) for n in self.header_names
        ]

    def clean_new_headers(self) -> dict[str, str]:
        return header_lines(self.cleaned_data["new_headers"])

    def _data(self, current_headers: dict[str, str] | None) -> dict[str, Any]:
        """The cleaned data for a service, ``headers`` only when they change (the kept
        ones' values come from ``current_headers``)."""
        data = dict(self.cleaned_data)
        kept = data.pop("keep_headers", [])
        added = data.pop("new_headers", {})
        current = current_headers or {}
        headers = {name: value for name, value in current.items() if name in kept}
        headers.update(added)
        if headers != current:
            data["headers"] = headers
        return data


class ActionForm(_HeadersForm):
    """Every field the API accepts. ``headers``: the names kept (``keep_headers``, their
    values never leave the server) plus the lines added or replacing them."""

    title = forms.CharField(label="Title", max_length=120, required=False, help_text="What people see.")
    name = forms.CharField(
        label="Tool name",
        max_length=64,
        help_text="What the model calls it: letters, digits, _ and -, e.g. <code>order_status</code>.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label="Description for the model",
        max_length=4000,
        help_text="What it does and when to use it: the model reads this to decide whether to call it.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    method = forms.ChoiceField(label="Method", choices=Action.Method.choices, initial=Action.Method.POST)
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="An https address; <code>{order_id}</code> takes the input of that name (a required "
        "parameter). The other inputs go in the JSON body (POST, PUT, PATCH) or the query.",
        widget=forms.TextInput(
            attrs={"placeholder": "https://shop.example.com/api/orders/{order_id}", "inputmode": "url"}
        ),
    )
    parameters = forms.CharField(
        label="Parameters (JSON Schema)",
        required=False,
        help_text='The inputs, as a JSON Schema object (<code>"type": "object"</code>). Empty: no inputs.',
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
    )
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", min_value=1, max_value=30, initial=10, help_text="1 to 30 seconds."
    )
    response_fields = forms.CharField(
        label="Response fields",
        required=False,
        help_text="Dotted paths kept from a JSON answer for the model, one per line (e.g. "
        "<code>order.status</code>). Empty: the whole answer.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "mono"}),
    )
    audience = forms.ChoiceField(
        label="Who may trigger it",
        choices=Action.Audience.choices,
        initial=Action.Audience.ANYONE,
        widget=forms.RadioSelect,
    )
    requires_confirmation = forms.BooleanField(
        label="Ask the visitor to confirm before each call",
        required=False,
        help_text="The widget shows the inputs in plain words with Confirm and Cancel.",
    )
    is_enabled = forms.BooleanField(
        label="Enabled", required=False, initial=True, help_text="Turned off, the bot never calls it."
    )
    widgets = forms.ModelMultipleChoiceField(
        label="Widgets",
        queryset=Widget.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Offer it only on the widgets checked. None checked: every widget.",
    )

    field_order = [
        "title", "name", "description", "method", "url", "parameters", "keep_headers", "new_headers",
        "timeout_seconds", "response_fields", "audience", "requires_confirmation", "is_enabled", "widgets",
    ]  # fmt: skip

    def __init__(self, *args: Any, header_names: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, header_names=header_names, **kwargs)
        widgets = cast(forms.ModelMultipleChoiceField, self.fields["widgets"])
        widgets.queryset = Widget.objects.order_by("name", "pk")

    @classmethod
    def of(cls, action: Action, header_names: list[str]) -> ActionForm:
        initial = {
            "title": action.title,
            "name": action.name,
            "description": action.description,
            "method": action.method,
            "url": action.url,
            "parameters": json.dumps(_schema_ordered(action.parameters), indent=2, ensure_ascii=False),
            "keep_headers": header_names,
            "timeout_seconds": action.timeout_seconds,
            "response_fields": "\n".join(action.response_fields),
            "audience": action.audience,
            "requires_confirmation": action.requires_confirmation,
            "is_enabled": action.is_enabled,
            "widgets": list(action.widgets.all()),
        }
        return cls(initial=initial, header_names=header_names)

    def clean_parameters(self) -> Any:
        value = self.cleaned_data["parameters"].strip()
        return _json_field(value, "(the schema)") if value else None

    def clean_response_fields(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["response_fields"].splitlines() if line.strip()]

    def service_data(self, current_headers: dict[str, str] | None = None) -> dict[str, Any]:
        """What ``action_create`` / ``action_update`` take. ``headers`` is given only when
        the headers change (the kept ones' values come from ``current_headers``)."""
        data = self._data(current_headers)
        data["widgets"] = [w.pk for w in data["widgets"]]
        return data


class McpServerForm(_HeadersForm):
    """Every field of an MCP server the API accepts; headers as in :class:`ActionForm`
    (write-only), the allowed tools checked among the server's last tool list."""

    title = forms.CharField(label="Title", max_length=120, required=False, help_text="What people see.")
    name = forms.CharField(
        label="Name",
        max_length=20,
        help_text="The prefix of its tools' names for the model: lower-case letters, digits and -, e.g. "
        "<code>shop</code>.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="The server's MCP endpoint (streamable HTTP), an https address.",
        widget=forms.TextInput(attrs={"placeholder": "https://mcp.example.com/mcp", "inputmode": "url"}),
    )
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)",
        min_value=1,
        max_value=30,
        initial=10,
        help_text="1 to 30 seconds, for a whole tool call.",
    )
    allowed_tools = forms.MultipleChoiceField(
        label="Tools the bot may call", required=False, widget=forms.CheckboxSelectMultiple
    )
    audience = forms.ChoiceField(
        label="Who may trigger its tools",
        choices=Action.Audience.choices,
        initial=Action.Audience.ANYONE,
        widget=forms.RadioSelect,
    )
    requires_confirmation = forms.BooleanField(
        label="Ask the visitor to confirm before each call",
        required=False,
        help_text="The widget shows the tool and its inputs in plain words with Confirm and Cancel.",
    )
    is_enabled = forms.BooleanField(
        label="Enabled", required=False, initial=True, help_text="Turned off, the bot never calls its tools."
    )

    field_order = [
        "title", "name", "url", "keep_headers", "new_headers", "timeout_seconds", "allowed_tools", "audience",
        "requires_confirmation", "is_enabled",
    ]  # fmt: skip

    def __init__(
        self,
        *args: Any,
        header_names: list[str] | None = None,
        server: McpServer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, header_names=header_names, **kwargs)
        # The last tool list, and the allowed ones no longer in it (kept unless unticked).
        self.tools: list[dict[str, Any]] = list(server.tools) if server is not None else []
        listed = {str(t["name"]) for t in self.tools}
        for name in server.allowed_tools if server is not None else []:
            if name not in listed:
                self.tools.append(
                    {"name": name, "title": "", "description": "", "problem": "Not in the last list."}
                )
        cast(forms.MultipleChoiceField, self.fields["allowed_tools"]).choices = [
            (t["name"], t["name"]) for t in self.tools
        ]

    @classmethod
    def of(cls, server: McpServer, header_names: list[str]) -> McpServerForm:
        initial = {
            "title": server.title,
            "name": server.name,
            "url": server.url,
            "keep_headers": header_names,
            "timeout_seconds": server.timeout_seconds,
            "allowed_tools": list(server.allowed_tools),
            "audience": server.audience,
            "requires_confirmation": server.requires_confirmation,
            "is_enabled": server.is_enabled,
        }
        return cls(initial=initial, header_names=header_names, server=server)

    def tool_choices(self) -> list[tuple[BoundWidget, dict[str, Any]]]:
        """Each tool's checkbox with what the server says of it."""
        by_name = {t["name"]: t for t in self.tools}
        return [(choice, by_name.get(choice.data["value"], {})) for choice in self["allowed_tools"]]

    def service_data(self, current_headers: dict[str, str] | None = None) -> dict[str, Any]:
        """What ``mcp_server_create`` / ``mcp_server_update`` take (``headers`` only when
        they change)."""
        return self._data(current_headers)


class ImportForm(forms.Form):
    document = forms.CharField(
        label="OpenAPI document (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text="An OpenAPI 3 document with an absolute <code>servers[0].url</code>.",
    )
    upload = forms.FileField(label="Or upload the file", required=False)
    new_headers = forms.CharField(
        label="Headers for every imported action",
        required=False,
        help_text="An API key, say. " + HEADER_LINES_HELP,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "mono"}),
    )

    MAX_BYTES = 1024 * 1024

    def clean_new_headers(self) -> dict[str, str]:
        return header_lines(self.cleaned_data["new_headers"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("upload")
        text = cleaned.get("document") or ""
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 1 MB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise forms.ValidationError("The file is not UTF-8 text.") from error
        if not text.strip():
            self.add_error("document", "Paste the document or upload its file.")
            return cleaned
        try:
            cleaned["parsed"] = _json_field(text, "(only JSON documents are read)")
        except forms.ValidationError as error:
            self.add_error("document", error)
            return cleaned
        cleaned["document"] = text
        return cleaned


class TestForm(forms.Form):
    """The test runner: the inputs, one field per property of the parameters (strings,
    numbers, booleans, choices), or raw JSON; and a stand-in verified visitor id."""

    MODES = [("fields", "Fields"), ("raw", "Raw JSON")]

    mode = forms.ChoiceField(choices=MODES, initial="fields", widget=forms.RadioSelect, label="Inputs as")
    raw = forms.CharField(
        label="Inputs (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
    )
    visitor_id = forms.CharField(
        label="Verified visitor id",
        max_length=200,
        required=False,
        help_text="Call as a signed-in visitor with this user id (sent as X-Chatbot-Visitor-Id). "
        "Empty: an anonymous visitor.",
    )

    def __init__(self, *args: Any, parameters: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.input_names: list[str] = []
        properties = (parameters or {}).get("properties") or {}
        required = set((parameters or {}).get("required") or [])
        # The required inputs first, each group in the schema's order.
        ordered = sorted(properties.items(), key=lambda item: item[0] not in required)
        for name, spec in ordered:
            field = _input_field(spec if isinstance(spec, dict) else {}, name in required)
            if field is None:
                continue
            field.label = str((spec or {}).get("title") or name)
            key = f"in_{name}"
            self.fields[key] = field
            self.input_names.append(name)
        if not self.is_bound:
            self.initial["raw"] = json.dumps(
                {n: _sample(properties[n]) for n in self.input_names}, indent=2, ensure_ascii=False
            )

    def input_fields(self) -> list[forms.BoundField]:
        return [self[f"in_{name}"] for name in self.input_names]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("mode") == "raw":
            for name in self.input_names:  # the fields are not used: their problems neither
                self.errors.pop(f"in_{name}", None)
            try:
                cleaned["arguments"] = _json_field(cleaned.get("raw") or "{}", "")
            except forms.ValidationError as error:
                self.add_error("raw", error)
            return cleaned
        arguments: dict[str, Any] = {}
        for name in self.input_names:
            value = cleaned.get(f"in_{name}")
            if value is None or value == "":
                continue
            arguments[name] = value
        cleaned["arguments"] = arguments
        return cleaned


def _schema_ordered(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its usual keys first (the database keeps keys in its own order)."""
    first = [k for k in ("type", "properties", "required") if k in schema]
    return {**{k: schema[k] for k in first}, **{k: v for k, v in schema.items() if k not in first}}


def _sample(spec: Any) -> Any:
    spec = spec if isinstance(spec, dict) else {}
    if "examples" in spec and isinstance(spec["examples"], list) and spec["examples"]:
        return spec["examples"][0]
    if "enum" in spec and isinstance(spec["enum"], list) and spec["enum"]:
        return spec["enum"][0]
    kind = spec.get("type")
    return {"boolean": False, "integer": 0, "number": 0, "array": [], "object": {}}.get(str(kind), "")


class _OptionalBoolean(forms.TypedChoiceField):
    """A boolean input that may be left out (a checkbox could not say "not given")."""

    def __init__(self, required: bool) -> None:
        choices = (
            [("", "—"), ("true", "Yes"), ("false", "No")]
            if not required
            else [("true", "Yes"), ("false", "No")]
        )
        super().__init__(choices=choices, coerce=lambda v: v == "true", empty_value=None, required=required)


def _input_field(spec: dict[str, Any], required: bool) -> forms.Field | None:
    """A form field for one property of the parameters (None: only raw JSON can give it)."""
    help_text = str(spec.get("description") or "")[:300]
    kind = spec.get("type")
    if isinstance(spec.get("enum"), list) and all(isinstance(v, (str, int)) for v in spec["enum"]):
        values = spec["enum"]
        choices = ([] if required else [("", "—")]) + [(str(v), str(v)) for v in values]
        by_text = {str(v): v for v in values}
        return forms.TypedChoiceField(
            choices=choices, coerce=lambda v: by_text.get(v, v), empty_value=None,
            required=required, help_text=help_text,
        )  # fmt: skip
    if kind == "string":
        return forms.CharField(required=required, help_text=help_text, max_length=4000)
    if kind == "integer":
        return forms.IntegerField(required=required, help_text=help_text)
    if kind == "number":
        return forms.FloatField(required=required, help_text=help_text)
    if kind == "boolean":
        field = _OptionalBoolean(required)
        field.help_text = help_text
        return field
    return None
