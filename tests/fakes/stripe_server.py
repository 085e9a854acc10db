"""A local, stateful fake of the Stripe API (the v1 endpoints our billing code uses).

Tests point the REAL ``stripe`` SDK at it, so what our code sees (StripeObject classes, error
classes and their ``code``/``param``, retries, idempotency) is what the SDK makes of wire data
shaped like Stripe's own. Standard library plus ``stripe`` (for ``sign`` and ``client``).

    with FakeStripeServer() as fake:               # or: fake = FakeStripeServer().start() ... fake.stop()
        client = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.url},
                                     max_network_retries=0)        # or: client = fake.client()
        customer = client.v1.customers.create(params={"email": "a@example.com"})
        session = client.v1.checkout.sessions.create(params={"mode": "subscription", ...})
        events = fake.checkout_complete(session.id)  # what paying does; the events Stripe would send
        payload, header = fake.sign(events[-1], "whsec_test")   # a signed webhook delivery

Endpoints (form-encoded bodies, JSON replies; every object has ``id``, ``object``, ``created``,
``livemode: false`` and, where Stripe has them, ``metadata``):

    POST /v1/customers, GET|POST|DELETE /v1/customers/{id}, GET /v1/prices/{id}
    POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}
    POST /v1/billing_portal/sessions
    GET /v1/subscriptions, GET|POST|DELETE /v1/subscriptions/{id}
    GET /v1/invoices, GET /v1/invoices/{id}
    POST /v1/billing/meter_events
    GET /v1/events, GET /v1/events/{id}

Pages for a browser (no auth, not recorded in ``requests``): ``GET /pay/{cs_id}`` completes the
checkout as ``checkout_complete`` does and redirects (303) to ``success_url`` with
``{CHECKOUT_SESSION_ID}`` filled in (``?cancel=1``: to ``cancel_url``, nothing changes);
``GET /portal/{bps_id}`` redirects to ``return_url``; ``GET /invoice/{in_id}`` and ``/pdf``.

Stripe semantics kept:

- Auth: no ``Authorization: Bearer sk_...`` (or ``rk_...``), or not ``api_key`` when one was
  given, is a 401 (``stripe.AuthenticationError``).
- Unknown parameters are refused (400, code ``parameter_unknown``), checked against the SDK's
  own param TypedDicts (top level, and inside ``line_items``, ``subscription_data``, ``items``).
  Booleans must be ``true``/``false``, integers integers, required params present
  (``parameter_missing``). Referenced objects that do not exist (``customer``, a price under
  ``strict_prices``, ``items[0][id]``): 400 ``resource_missing`` with ``param``; an unknown id in
  the URL: 404 ``resource_missing`` with ``param: "id"``. Both are ``stripe.InvalidRequestError``.
- Idempotency: a POST whose ``Idempotency-Key`` was seen before gets the stored first reply
  (header ``Idempotent-Replayed: true``) when method, path and params match, else a 400
  ``idempotency_error`` (``stripe.IdempotencyError``). As at Stripe, only executed requests are
  stored: validation errors are not, so a corrected retry with the same key runs. Keys on GET and
  DELETE are ignored. NB the SDK puts a random key on every POST and reuses it on its retries.
- Meter events: ``identifier`` (generated when absent) must be unique within 24 hours (by
  ``clock``); a repeat is a 400 ``invalid_request_error``, message "An event already exists with
  identifier <id>.", header ``Stripe-Should-Retry: false``. That message, status and header are
  what Stripe is reported to send; the ``code`` is not documented, and the fake uses
  ``resource_already_exists`` (param ``identifier``): so match on status/message/param, not only
  code. ``timestamp`` must be within the past 35 days or 5 minutes ahead. The fake assumes a
  meter with the default payload keys: ``payload[stripe_customer_id]`` and ``payload[value]`` (a
  whole number, as a string) are required. It does not check the customer or the meter (Stripe
  reports those asynchronously). Accepted events are in ``meter_events``.
- Events are snapshots (deep copies) at the time of the change; API updates and cancellations
  generate ``customer.subscription.updated`` / ``.deleted`` with ``previous_attributes`` too. All
  events are kept in ``events``. Stripe does not guarantee delivery order, so webhook tests should
  also feed them shuffled.
- Shapes follow the SDK's pinned API version (``stripe.api_version``, echoed in events and in
  a ``Stripe-Version`` reply header): billing periods live on subscription ITEMS
  (``items.data[i].current_period_start/end``); with ``period_fields_at_top_level`` (the default)
  the fake also copies them to the subscription's top level, which Stripe stopped doing in
  2025-03-31.basil. Pass ``period_fields_at_top_level=False`` to prove code reads the item fields.
  An invoice names its subscription in ``parent.subscription_details.subscription`` (no top-level
  ``subscription``). Its ``period_start/end`` are the billed period here, as on its lines; on real
  Stripe they are the window in which invoice items were added (equal to ``created`` on a first
  invoice), so code showing the service period should read ``lines.data[0].period``.
- Deleting a customer cancels its subscriptions (``customer.subscription.deleted`` events);
  retrieving it afterwards answers ``{"id", "object": "customer", "deleted": true}``.

Prices: ``add_price`` registers one (amount, currency, interval, licensed/metered). Without
``strict_prices``, an unknown price id is created on first use with the defaults of ``add_price``.

Faults: ``fail_next(path_prefix, status=500, times=1)`` answers the next matching requests with an
error before doing anything (the SDK retries 409 and 5xx when ``max_network_retries`` > 0, with the
same idempotency key); ``lose_response=True`` executes the request first (its result is stored
under the idempotency key, as Stripe does) and only then answers with the error.

Clock: ``clock`` (default ``time.time``) gives every ``created`` and period; tests may replace it.
Thread-safe: every request and helper runs under one lock.
"""

from __future__ import annotations

import calendar
import copy
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import stripe

from tests.fakes.http_base import FakeHandler, FakeHTTPServer

log = logging.getLogger(__name__)

DAY = 86400
_ALPHABET = string.ascii_letters + string.digits


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


# -- parameter specs, from the SDK's own TypedDicts ----------------------------------------------

_Spec = tuple[frozenset[str], dict[str, Any]]  # (allowed keys, nested specs by key)


def _spec(cls: Any, **nested: _Spec) -> _Spec:
    options = set(getattr(stripe, "RequestOptions", dict).__annotations__)
    return frozenset(set(cls.__annotations__) - options), nested


def _build_specs() -> dict[str, _Spec]:
    try:
        import stripe.params as p
        import stripe.params.billing as billing
        import stripe.params.billing_portal as portal
        import stripe.params.checkout as checkout
    except ImportError:  # another SDK layout: accept anything
        return {}
    retrieve = _spec(p.CustomerRetrieveParams)
    return {
        "customer_create": _spec(p.CustomerCreateParams),
        "customer_update": _spec(p.CustomerUpdateParams),
        "customer_retrieve": retrieve,
        "customer_delete": (frozenset(), {}),
        "price_retrieve": retrieve,
        "checkout_session_create": _spec(
            checkout.SessionCreateParams,
            line_items=_spec(checkout.SessionCreateParamsLineItem),
            subscription_data=_spec(checkout.SessionCreateParamsSubscriptionData),
        ),
        "checkout_session_retrieve": retrieve,
        "portal_session_create": _spec(portal.SessionCreateParams),
        "subscription_list": _spec(p.SubscriptionListParams),
        "subscription_retrieve": _spec(p.SubscriptionRetrieveParams),
        "subscription_update": _spec(p.SubscriptionUpdateParams, items=_spec(p.SubscriptionUpdateParamsItem)),
        "subscription_cancel": _spec(p.SubscriptionCancelParams),
        "invoice_list": _spec(p.InvoiceListParams),
        "invoice_retrieve": retrieve,
        "meter_event_create": _spec(billing.MeterEventCreateParams),
        "event_list": _spec(p.EventListParams),
        "event_retrieve": retrieve,
    }


_SPECS = _build_specs()

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("POST", r"/v1/customers", "customer_create"),
        ("GET", r"/v1/customers/(?P<id>[^/]+)", "customer_retrieve"),
        ("POST", r"/v1/customers/(?P<id>[^/]+)", "customer_update"),
        ("DELETE", r"/v1/customers/(?P<id>[^/]+)", "customer_delete"),
        ("GET", r"/v1/prices/(?P<id>[^/]+)", "price_retrieve"),
        ("POST", r"/v1/checkout/sessions", "checkout_session_create"),
        ("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)", "checkout_session_retrieve"),
        ("POST", r"/v1/billing_portal/sessions", "portal_session_create"),
        ("GET", r"/v1/subscriptions", "subscription_list"),
        ("GET", r"/v1/subscriptions/(?P<id>[^/]+)", "subscription_retrieve"),
        ("POST", r"/v1/subscriptions/(?P<id>[^/]+)", "subscription_update"),
        ("DELETE", r"/v1/subscriptions/(?P<id>[^/]+)", "subscription_cancel"),
        ("GET", r"/v1/invoices", "invoice_list"),
        ("GET", r"/v1/invoices/(?P<id>[^/]+)", "invoice_retrieve"),
        ("POST", r"/v1/billing/meter_events", "meter_event_create"),
        ("GET", r"/v1/events", "event_list"),
        ("GET", r"/v1/events/(?P<id>[^/]+)", "event_retrieve"),
    ]
]


# -- wire helpers ---------------------------------------------------------------------------------


class StripeAPIError(Exception):
    """Raised inside handlers; becomes ``{"error": {...}}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _missing(what: str, ident: str, param: str, status: int = 400) -> StripeAPIError:
    return StripeAPIError(status, f"No such {what}: '{ident}'", code="resource_missing", param=param)


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested data: ``a[b][0][c]=v`` -> ``{"a": {"b": [{"c": "v"}]}}``.

    Values stay strings; ``[]`` appends; dicts whose keys are all digits become lists.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))] if match else [key]
        node = root
        for i, part in enumerate(parts):
            if part == "":
                part = str(len(node))
            if i == len(parts) - 1:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
    return _listify(root)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def _check_params(params: dict[str, Any], spec: _Spec | None, prefix: str = "") -> None:
    if spec is None:
        return
    allowed, nested = spec
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in allowed:
            raise StripeAPIError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        inner = nested.get(key)
        if inner and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _check_params(item, inner, f"{name}[{i}]")
        elif inner and isinstance(value, dict):
            _check_params(value, inner, name)


def _bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise StripeAPIError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param)


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeAPIError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, "", {}, []):
        raise StripeAPIError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def _str_dict(value: Any, param: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise StripeAPIError(400, f"Invalid object: {param}", code="parameter_invalid_object", param=param)
    return {k: v for k, v in value.items() if v != ""}


def _merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    if update == "":  # metadata="" unsets every key
        return {}
    merged = dict(current)
    for key, value in (update or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _add_interval(ts: int, interval: str, count: int = 1) -> int:
    dt = datetime.fromtimestamp(ts, UTC)
    if interval in ("month", "year"):
        months = dt.month - 1 + count * (12 if interval == "year" else 1)
        year, month = dt.year + months // 12, months % 12 + 1
        dt = dt.replace(year=year, month=month, day=min(dt.day, calendar.monthrange(year, month)[1]))
    else:
        dt += timedelta(days=count * (7 if interval == "week" else 1))
    return int(dt.timestamp())


def _previous(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: before.get(k) for k in after if before.get(k) != after[k]}


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-cased names
    params: dict[str, Any]  # decoded form body (POST) or query string (GET/DELETE)
    body: str
    received_at: float = field(default_factory=time.monotonic)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("stripe-version")


@dataclass
class _Fault:
    path_prefix: str
    method: str | None
    status: int
    times: int
    should_retry: bool | None
    lose_response: bool


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


# -- the fake -------------------------------------------------------------------------------------


class FakeStripeServer(FakeHTTPServer):
    name = "fake Stripe server"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        api_version: str | None = None,
        strict_prices: bool = False,
        period_fields_at_top_level: bool = True,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key  # None: any sk_/rk_ key is accepted
        self.api_version = api_version or stripe.api_version
        self.strict_prices = strict_prices
        self.period_fields_at_top_level = period_fields_at_top_level
        self.clock: Callable[[], float] = time.time
        self._clear()

    def _clear(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.meter_events: list[dict[str, Any]] = []
        self._checkout_extras: dict[str, dict[str, Any]] = {}  # line items, subscription_data
        self._meter_identifiers: dict[str, int] = {}
        self._idempotent: dict[str, tuple[str, str, dict[str, Any], _Reply]] = {}
        self._faults: list[_Fault] = []
        self._request_context: dict[str, Any] = {"id": None, "idempotency_key": None}

    # -- lifecycle ------------------------------------------------------------------------------

    def handler_class(self) -> type[FakeHandler]:
        return _Handler

    def reset(self) -> None:
        """Forget every object, event, request, idempotency key and pending fault."""
        with self._lock:
            self._clear()

    def client(self, api_key: str = "sk_test_fake", *, max_network_retries: int = 0, **kwargs: Any) -> Any:
        """A ``stripe.StripeClient`` pointed at this server; retries (if any) do not sleep."""
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.url},
            max_network_retries=max_network_retries,
            http_client=kwargs.pop("http_client", None) or NoSleepRequestsClient(),
            **kwargs,
        )

    # -- test controls --------------------------------------------------------------------------

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        times: int = 1,
        *,
        method: str | None = None,
        should_retry: bool | None = None,
        lose_response: bool = False,
    ) -> None:
        """Answer the next ``times`` API requests whose path starts with ``path_prefix`` with an error."""
        with self._lock:
            self._faults.append(
                _Fault(
                    path_prefix,
                    method.upper() if method else None,
                    status,
                    times,
                    should_retry,
                    lose_response,
                )
            )

    def add_price(
        self,
        price_id: str | None = None,
        *,
        unit_amount: int = 1000,
        currency: str = "usd",
        interval: str = "month",
        interval_count: int = 1,
        usage_type: str = "licensed",
        meter: str | None = None,
        product: str | None = None,
        lookup_key: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Register a recurring price (``usage_type="metered"`` for a meter-backed one)."""
        with self._lock:
            price = {
                "id": price_id or _new_id("price_"),
                "object": "price",
                "active": True,
                "billing_scheme": "per_unit",
                "created": self._now(),
                "currency": currency,
                "livemode": False,
                "lookup_key": lookup_key,
                "metadata": dict(metadata or {}),
                "nickname": None,
                "product": product or _new_id("prod_", 14),
                "recurring": {
                    "interval": interval,
                    "interval_count": interval_count,
                    "meter": meter,
                    "usage_type": usage_type,
                },
                "tax_behavior": "unspecified",
                "type": "recurring",
                "unit_amount": unit_amount,
                "unit_amount_decimal": str(unit_amount),
            }
            self.prices[price["id"]] = price
            return copy.deepcopy(price)

    def checkout_complete(self, session_id: str) -> list[dict[str, Any]]:
        """Pay an open subscription-mode Checkout Session, as the customer would on Stripe's page.

        Creates the customer (from ``customer_email``) if the session had none, an active (or,
        with ``subscription_data[trial_period_days]``, trialing) subscription with one item per
        line item and ``subscription_data[metadata]`` as metadata, and a paid invoice; completes
        the session. Returns the events, in the order they happened: [``customer.created``],
        ``customer.subscription.created``, ``invoice.paid``, ``checkout.session.completed``.
        """
        with self._lock:
            session = self.checkout_sessions.get(session_id)
            if session is None:
                raise KeyError(f"no checkout session {session_id!r}")
            if session["status"] != "open" or session["mode"] != "subscription":
                raise ValueError(f"checkout session {session_id} is {session['status']} ({session['mode']})")
            extras = self._checkout_extras[session_id]
            events = []
            if session["customer"] is None:
                customer = self._new_customer({"email": session["customer_email"]})
                events.append(self._emit("customer.created", customer))
                session["customer"] = customer["id"]
            customer = self.customers[session["customer"]]
            data = extras["subscription_data"]
            sub = self._new_subscription(
                customer["id"],
                [(self.prices[item["price"]], item.get("quantity")) for item in extras["line_items"]],
                data.get("metadata") or {},
                trial_days=int(data["trial_period_days"]) if data.get("trial_period_days") else None,
            )
            invoice = self._new_invoice(sub, "paid", "subscription_create")
            events.append(self._emit("customer.subscription.created", sub))
            events.append(self._emit("invoice.paid", invoice))
            session.update(
                status="complete",
                payment_status="paid" if invoice["amount_due"] else "no_payment_required",
                subscription=sub["id"],
                invoice=invoice["id"],
                customer=customer["id"],
                customer_details={"email": customer["email"], "name": customer["name"], "phone": None},
            )
            events.append(self._emit("checkout.session.completed", session))
            return events

    def subscription_update(self, sub_id: str, **changes: Any) -> dict[str, Any]:
        """Change a subscription as Stripe would on its own (dunning, dashboard, portal).

        ``price=`` / ``quantity=`` change the first item; ``metadata=`` merges; ``status=``,
        ``cancel_at_period_end=``, ``current_period_start/end=`` and any other top-level field are
        set. Returns the ``customer.subscription.updated`` event (with ``previous_attributes``).
        """
        with self._lock:
            sub = self._subscription(sub_id)
            before = copy.deepcopy(sub)
            for key, value in changes.items():
                item = sub["items"]["data"][0]
                if key == "price":
                    item["price"] = copy.deepcopy(self._price(value, "price"))
                    item["plan"] = self._plan(item["price"])
                elif key == "quantity":
                    item["quantity"] = value
                elif key == "metadata":
                    sub["metadata"] = _merge_metadata(sub["metadata"], value)
                elif key in ("current_period_start", "current_period_end"):
                    start = value if key == "current_period_start" else item["current_period_start"]
                    end = value if key == "current_period_end" else item["current_period_end"]
                    self._set_period(sub, start, end)
                elif key == "cancel_at_period_end":
                    sub["cancel_at_period_end"] = bool(value)
                    sub["cancel_at"] = item["current_period_end"] if value else None
                    sub["canceled_at"] = self._now() if value else None
                else:
                    sub[key] = value
            return self._emit("customer.subscription.updated", sub, _previous(before, sub))

    def subscription_delete(self, sub_id: str) -> dict[str, Any]:
        """End a subscription now (period end reached, dunning gave up): ``customer.subscription.deleted``."""
        with self._lock:
            sub = self._subscription(sub_id)
            before = copy.deepcopy(sub)
            self._cancel(sub, "cancellation_requested" if sub["cancel_at_period_end"] else "payment_failed")
            return self._emit("customer.subscription.deleted", sub, _previous(before, sub))

    def invoice_payment_failed(self, sub_id: str) -> list[dict[str, Any]]:
        """A renewal payment fails: the subscription's open invoice (or a new renewal invoice, the
        period moving on) gets another failed attempt and the subscription goes ``past_due``.
        Returns ``invoice.payment_failed`` and ``customer.subscription.updated``."""
        with self._lock:
            sub = self._subscription(sub_id)
            if sub["status"] == "canceled":
                raise ValueError(f"subscription {sub_id} is canceled")
            before = copy.deepcopy(sub)
            invoice = self._open_invoice(sub)
            if invoice is None:
                self._advance_period(sub)
                invoice = self._new_invoice(sub, "open", "subscription_cycle")
            else:
                invoice["attempt_count"] += 1
            invoice["next_payment_attempt"] = self._now() + 3 * DAY
            sub["status"] = "past_due"
            return [
                self._emit("invoice.payment_failed", invoice),
                self._emit("customer.subscription.updated", sub, _previous(before, sub)),
            ]

    def invoice_pay(self, sub_id: str) -> list[dict[str, Any]]:
        """A payment succeeds: the subscription's open invoice is paid, or (none open) the
        subscription renews into its next period with a new paid invoice; it becomes ``active``.
        Returns ``invoice.paid`` and ``customer.subscription.updated``."""
        with self._lock:
            sub = self._subscription(sub_id)
            if sub["status"] == "canceled":
                raise ValueError(f"subscription {sub_id} is canceled")
            before = copy.deepcopy(sub)
            invoice = self._open_invoice(sub)
            if invoice is None:
                self._advance_period(sub)
                invoice = self._new_invoice(sub, "paid", "subscription_cycle")
            else:
                now = self._now()
                invoice.update(
                    status="paid",
                    amount_paid=invoice["amount_due"],
                    amount_remaining=0,
                    attempt_count=invoice["attempt_count"] + 1,
                    next_payment_attempt=None,
                )
                invoice["status_transitions"]["paid_at"] = now
            sub["status"] = "active"
            return [
                self._emit("invoice.paid", invoice),
                self._emit("customer.subscription.updated", sub, _previous(before, sub)),
            ]

    def make_event(
        self, type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record and return an arbitrary event (e.g. one our handler ignores)."""
        with self._lock:
            return self._emit(type, obj, previous_attributes)

    def sign(self, event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
        """The body and ``Stripe-Signature`` header of a webhook delivery of ``event``."""
        payload = json.dumps(event, indent=2)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
        return payload.encode(), header

    # -- request handling (called by _Handler) --------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], body: str) -> _Reply:
        split = urlsplit(target)
        path = split.path
        if not path.startswith("/v1/"):
            with self._lock:
                return self._page(method, path, dict(parse_qsl(split.query)))
        raw = body if method == "POST" else split.query
        params = decode_form(parse_qsl(raw, keep_blank_values=True))
        request = RecordedRequest(method, path, split.query, headers, params, body)
        request_id = _new_id("req_", 14)
        with self._lock:
            self.requests.append(request)
            reply = self._api(method, path, request, request_id)
        reply.headers.setdefault("Request-Id", request_id)
        reply.headers.setdefault("Stripe-Version", request.stripe_version or self.api_version)
        if request.idempotency_key and method == "POST":
            reply.headers.setdefault("Idempotency-Key", request.idempotency_key)
        return reply

    def _api(self, method: str, path: str, request: RecordedRequest, request_id: str) -> _Reply:
        fault = next(
            (f for f in self._faults if path.startswith(f.path_prefix) and f.method in (None, method)), None
        )
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            if not fault.lose_response:
                return self._fault_reply(fault)
        try:
            self._authenticate(request.headers.get("authorization", ""))
            key = request.idempotency_key if method == "POST" else None
            if key and key in self._idempotent:
                first_method, first_path, first_params, stored = self._idempotent[key]
                if (first_method, first_path, first_params) != (method, path, request.params):
                    raise StripeAPIError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request.",
                        type="idempotency_error",
                    )
                replay = _Reply(stored.status, stored.body, stored.content_type, dict(stored.headers))
                replay.headers["Idempotent-Replayed"] = "true"
                return self._fault_reply(fault) if fault else replay
            route = next(
                ((name, m) for verb, rx, name in _ROUTES if verb == method and (m := rx.fullmatch(path))),
                None,
            )
            if route is None:
                raise StripeAPIError(
                    404,
                    f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                    "or we can help at https://support.stripe.com/.",
                )
            name, match = route
            _check_params(request.params, _SPECS.get(name))
            self._request_context = {"id": request_id, "idempotency_key": key}
            try:
                ident = unquote_plus(match.group("id")) if "id" in match.groupdict() else None
                result = getattr(self, "_" + name)(request.params, ident)
            finally:
                self._request_context = {"id": None, "idempotency_key": None}
            reply = _Reply(200, json.dumps(result).encode())
            if key:
                stored = _Reply(reply.status, reply.body, reply.content_type, dict(reply.headers))
                self._idempotent[key] = (method, path, copy.deepcopy(request.params), stored)
        except StripeAPIError as error:
            reply = _Reply(error.status, json.dumps(error.body()).encode(), headers=dict(error.headers))
        return self._fault_reply(fault) if fault else reply

    def _fault_reply(self, fault: _Fault) -> _Reply:
        kind, code = {
            429: ("invalid_request_error", "rate_limit"),
            409: ("invalid_request_error", "lock_timeout"),
        }.get(fault.status, ("api_error" if fault.status >= 500 else "invalid_request_error", None))
        error = StripeAPIError(
            fault.status, f"Fake injected error (HTTP {fault.status})", type=kind, code=code
        )
        headers = (
            {} if fault.should_retry is None else {"Stripe-Should-Retry": str(fault.should_retry).lower()}
        )
        return _Reply(fault.status, json.dumps(error.body()).encode(), headers=headers)

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeAPIError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not key.startswith(("sk_", "rk_")) or (self.api_key is not None and key != self.api_key):
            raise StripeAPIError(401, f"Invalid API Key provided: {key[:8]}{'*' * 4}{key[-4:]}")

    def _page(self, method: str, path: str, query: dict[str, str]) -> _Reply:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/healthz":
            return _Reply(200, b"ok", "text/plain")
        if method == "GET" and len(parts) == 2 and parts[0] == "pay" and parts[1] in self.checkout_sessions:
            session = self.checkout_sessions[parts[1]]
            if query.get("cancel"):
                return _redirect(session["cancel_url"])
            if session["status"] == "open":
                self.checkout_complete(session["id"])
            return _redirect((session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", session["id"]))
        if method == "GET" and len(parts) == 2 and parts[0] == "portal" and parts[1] in self.portal_sessions:
            return _redirect(self.portal_sessions[parts[1]]["return_url"])
        if method == "GET" and len(parts) in (2, 3) and parts[0] == "invoice" and parts[1] in self.invoices:
            invoice = self.invoices[parts[1]]
            if len(parts) == 3:
                return _Reply(
                    200, b"%PDF-1.4\n% fake invoice " + invoice["id"].encode() + b"\n", "application/pdf"
                )
            text = f"<html><body><h1>Invoice {invoice['number']}</h1><p>{invoice['status']}</p></body></html>"
            return _Reply(200, text.encode(), "text/html")
        return _Reply(404, b"not found", "text/plain")

    # -- endpoint handlers ----------------------------------------------------------------------

    def _customer_create(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        return self._new_customer(params)

    def _customer_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        if self.customers.get(ident, {}).get("deleted"):  # Stripe still answers with the stub
            return dict(self.customers[ident])
        return self._expand(self._customer(ident, "id", 404), params)

    def _customer_update(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        customer = self._customer(ident, "id", 404)
        for key in ("email", "name", "description", "phone"):
            if key in params:
                customer[key] = params[key] or None
        if "metadata" in params:
            customer["metadata"] = _merge_metadata(customer["metadata"], params["metadata"])
        return copy.deepcopy(customer)

    def _customer_delete(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        self._customer(ident, "id", 404)
        for sub in self.subscriptions.values():  # as at Stripe, its subscriptions end now
            if sub["customer"] == ident and sub["status"] != "canceled":
                before = copy.deepcopy(sub)
                self._cancel(sub, "cancellation_requested")
                self._emit("customer.subscription.deleted", sub, _previous(before, sub))
        self.customers[ident] = {"id": ident, "object": "customer", "deleted": True}
        return dict(self.customers[ident])

    def _price_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        if ident not in self.prices:
            raise _missing("price", ident, "id", 404)
        return copy.deepcopy(self.prices[ident])

    def _checkout_session_create(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        mode = _required(params, "mode")
        if mode not in ("payment", "setup", "subscription"):
            raise StripeAPIError(400, f"Invalid mode: {mode}", code="parameter_invalid_string", param="mode")
        if params.get("customer") and params.get("customer_email"):
            raise StripeAPIError(
                400,
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer",
            )
        customer = self._customer(params["customer"], "customer") if params.get("customer") else None
        line_items = params.get("line_items") or []
        if mode == "subscription" and not line_items:
            raise StripeAPIError(
                400, "Missing required param: line_items.", code="parameter_missing", param="line_items"
            )
        items, amount, currency = [], 0, None
        for i, item in enumerate(line_items if isinstance(line_items, list) else []):
            price = self._price(
                _required(item, "price") if "price" in item else None, f"line_items[{i}][price]"
            )
            metered = price["recurring"] and price["recurring"]["usage_type"] == "metered"
            if metered and "quantity" in item:
                raise StripeAPIError(
                    400,
                    "Quantity should not be specified where usage_type is `metered`. Remove quantity from "
                    f"`line_items[{i}]`.",
                    param=f"line_items[{i}][quantity]",
                )
            if not metered and "quantity" not in item:
                raise StripeAPIError(
                    400, "Quantity is required.", code="parameter_missing", param=f"line_items[{i}][quantity]"
                )
            quantity = _int(item["quantity"], f"line_items[{i}][quantity]") if not metered else None
            items.append({"price": price["id"], "quantity": quantity})
            amount += 0 if metered else price["unit_amount"] * quantity
            currency = currency or price["currency"]
        subscription_data = params.get("subscription_data") or {}
        if subscription_data and mode != "subscription":
            raise StripeAPIError(
                400,
                "You can only specify `subscription_data` in `subscription` mode.",
                param="subscription_data",
            )
        if subscription_data.get("trial_period_days"):
            _int(subscription_data["trial_period_days"], "subscription_data[trial_period_days]")
        now = self._now()
        session_id = _new_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": (
                _bool(params["allow_promotion_codes"], "allow_promotion_codes")
                if "allow_promotion_codes" in params
                else None
            ),
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": customer["id"] if customer else None,
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": now + DAY,
            "invoice": None,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": _str_dict(params.get("metadata"), "metadata"),
            "mode": mode,
            "payment_status": "unpaid",
            "status": "open",
            "subscription": None,
            "success_url": params.get("success_url"),
            "ui_mode": params.get("ui_mode", "hosted"),
            "url": f"{self.url}/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        self._checkout_extras[session_id] = {
            "line_items": items,
            "subscription_data": {
                **subscription_data,
                "metadata": _str_dict(subscription_data.get("metadata"), "subscription_data[metadata]"),
            },
        }
        return copy.deepcopy(session)

    def _checkout_session_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        if ident not in self.checkout_sessions:
            raise _missing("checkout.session", ident, "id", 404)
        return self._expand(self.checkout_sessions[ident], params)

    def _portal_session_create(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        customer = self._customer(_required(params, "customer"), "customer")
        session_id = _new_id("bps_")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": params.get("configuration") or "bpc_fakedefault",
            "created": self._now(),
            "customer": customer["id"],
            "flow": None,
            "livemode": False,
            "locale": params.get("locale"),
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/portal/{session_id}",
        }
        self.portal_sessions[session_id] = session
        return copy.deepcopy(session)

    def _subscription_list(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        status = params.get("status")
        subs = [
            s
            for s in self.subscriptions.values()
            if params.get("customer") in (None, s["customer"])
            and (status == "all" or s["status"] == status or (status is None and s["status"] != "canceled"))
            and params.get("price") in (None, *(i["price"]["id"] for i in s["items"]["data"]))
        ]
        return self._list(subs, params, "/v1/subscriptions")

    def _subscription_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        return self._expand(self._subscription(ident, api=True), params)

    def _subscription_update(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        sub = self._subscription(ident, api=True)
        if sub["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
            raise StripeAPIError(
                400, "A canceled subscription can only update its cancellation_details and metadata."
            )
        before = copy.deepcopy(sub)
        behaviour = params.get("proration_behavior")
        if behaviour is not None and behaviour not in ("create_prorations", "none", "always_invoice"):
            raise StripeAPIError(
                400,
                f"Invalid proration_behavior: {behaviour}",
                code="parameter_invalid_string",
                param="proration_behavior",
            )
        items = sub["items"]["data"]
        for i, change in enumerate(params.get("items") or []):
            if change.get("id"):
                item = next((it for it in items if it["id"] == change["id"]), None)
                if item is None:
                    raise _missing("subscription_item", change["id"], f"items[{i}][id]")
                if change.get("deleted") and _bool(change["deleted"], f"items[{i}][deleted]"):
                    items.remove(item)
                    continue
            else:
                first = items[0] if items else None
                price = self._price(
                    _required(change, "price") if "price" in change else None, f"items[{i}][price]"
                )
                item = self._new_item(
                    sub["id"], price, 1, first["current_period_start"], first["current_period_end"]
                )
                items.append(item)
            if change.get("price"):
                item["price"] = copy.deepcopy(self._price(change["price"], f"items[{i}][price]"))
                item["plan"] = self._plan(item["price"])
            if "quantity" in change:
                item["quantity"] = _int(change["quantity"], f"items[{i}][quantity]")
            if "metadata" in change:
                item["metadata"] = _merge_metadata(item["metadata"], change["metadata"])
        sub["items"]["total_count"] = len(items)
        if "cancel_at_period_end" in params:
            cancel = _bool(params["cancel_at_period_end"], "cancel_at_period_end")
            sub["cancel_at_period_end"] = cancel
            sub["cancel_at"] = items[0]["current_period_end"] if cancel and items else None
            sub["canceled_at"] = self._now() if cancel else None
        if "metadata" in params:
            sub["metadata"] = _merge_metadata(sub["metadata"], params["metadata"])
        if "cancellation_details" in params:
            sub["cancellation_details"].update(params["cancellation_details"] or {})
        changed = _previous(before, sub)
        if changed:
            self._emit("customer.subscription.updated", sub, changed)
        return self._expand(sub, params)

    def _subscription_cancel(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        sub = self._subscription(ident, api=True)
        if sub["status"] != "canceled":
            before = copy.deepcopy(sub)
            self._cancel(sub, "cancellation_requested")
            if params.get("cancellation_details"):
                sub["cancellation_details"].update(params["cancellation_details"])
            self._emit("customer.subscription.deleted", sub, _previous(before, sub))
        return self._expand(sub, params)

    def _invoice_list(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        invoices = [
            inv
            for inv in self.invoices.values()
            if params.get("customer") in (None, inv["customer"])
            and params.get("status") in (None, inv["status"])
            and params.get("subscription") in (None, inv["parent"]["subscription_details"]["subscription"])
        ]
        return self._list(invoices, params, "/v1/invoices")

    def _invoice_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        if ident not in self.invoices:
            raise _missing("invoice", ident, "id", 404)
        return self._expand(self.invoices[ident], params)

    def _meter_event_create(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        event_name = _required(params, "event_name")
        payload = _required(params, "payload")
        if not isinstance(payload, dict):
            raise StripeAPIError(
                400, "Invalid object: payload", code="parameter_invalid_object", param="payload"
            )
        for key in ("stripe_customer_id", "value"):
            if not payload.get(key):
                raise StripeAPIError(
                    400,
                    f"Missing required param: payload[{key}].",
                    code="parameter_missing",
                    param=f"payload[{key}]",
                )
        if not re.fullmatch(r"-?\d+", payload["value"]):
            raise StripeAPIError(
                400,
                f"Invalid integer: {payload['value']}",
                code="parameter_invalid_integer",
                param="payload[value]",
            )
        now = self._now()
        timestamp = _int(params["timestamp"], "timestamp") if "timestamp" in params else now
        if not now - 35 * DAY <= timestamp <= now + 300:
            raise StripeAPIError(
                400,
                "Timestamp must be within the past 35 calendar days and no more than 5 minutes in the "
                "future.",
                code="parameter_invalid_integer",
                param="timestamp",
            )
        identifier = params.get("identifier") or _new_id("", 32)
        seen = self._meter_identifiers.get(identifier)
        if seen is not None and now - seen < DAY:
            raise StripeAPIError(
                400,
                f"An event already exists with identifier {identifier}.",
                code="resource_already_exists",
                param="identifier",
                headers={"Stripe-Should-Retry": "false"},
            )
        self._meter_identifiers[identifier] = now
        event = {
            "object": "billing.meter_event",
            "created": now,
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": dict(payload),
            "timestamp": timestamp,
        }
        self.meter_events.append(event)
        return copy.deepcopy(event)

    def _event_list(self, params: dict[str, Any], _: None) -> dict[str, Any]:
        types = params.get("types") or ([params["type"]] if params.get("type") else None)
        events = [e for e in self.events if types is None or e["type"] in types]
        return self._list(events, params, "/v1/events")

    def _event_retrieve(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        event = next((e for e in self.events if e["id"] == ident), None)
        if event is None:
            raise _missing("event", ident, "id", 404)
        return copy.deepcopy(event)

    # -- object helpers -------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _emit(
        self, type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self._now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": dict(self._request_context),
            "type": type,
        }
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = copy.deepcopy(previous_attributes)
        self.events.append(event)
        return copy.deepcopy(event)

    def _list(self, items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        limit = _int(params.get("limit", 10), "limit")
        if not 1 <= limit <= 100:
            raise StripeAPIError(400, "Invalid limit: must be between 1 and 100", param="limit")
        ordered = list(reversed(items))  # newest first
        if params.get("starting_after"):
            ids = [item["id"] for item in ordered]
            if params["starting_after"] not in ids:
                raise _missing("object", params["starting_after"], "starting_after")
            ordered = ordered[ids.index(params["starting_after"]) + 1 :]
        return {
            "object": "list",
            "data": [self._expand(item, params, prefix="data.") for item in ordered[:limit]],
            "has_more": len(ordered) > limit,
            "url": url,
        }

    def _expand(self, obj: dict[str, Any], params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """A copy of ``obj`` with the top-level ids named in ``expand`` replaced by their objects."""
        obj = copy.deepcopy(obj)
        stores = {"cus_": self.customers, "sub_": self.subscriptions, "in_": self.invoices}
        for path in params.get("expand") or []:
            name = path[len(prefix) :] if path.startswith(prefix) else path
            value = obj.get(name)
            if isinstance(value, str):
                store = next((s for p, s in stores.items() if value.startswith(p)), {})
                if value in store:
                    obj[name] = copy.deepcopy(store[value])
        return obj

    def _customer(self, ident: str, param: str, status: int = 400) -> dict[str, Any]:
        customer = self.customers.get(ident)
        if customer is None or customer.get("deleted"):
            raise _missing("customer", ident, param, status)
        return customer

    def _subscription(self, ident: str, *, api: bool = False) -> dict[str, Any]:
        if ident not in self.subscriptions:
            if api:
                raise _missing("subscription", ident, "id", 404)
            raise KeyError(f"no subscription {ident!r}")
        return self.subscriptions[ident]

    def _price(self, ident: str | None, param: str) -> dict[str, Any]:
        if not ident:
            raise StripeAPIError(
                400, f"Missing required param: {param}.", code="parameter_missing", param=param
            )
        if ident not in self.prices:
            if self.strict_prices:
                raise _missing("price", ident, param)
            self.add_price(ident)
        return self.prices[ident]

    @staticmethod
    def _plan(price: dict[str, Any]) -> dict[str, Any]:
        recurring = price["recurring"] or {}
        return {
            "id": price["id"],
            "object": "plan",
            "active": True,
            "amount": price["unit_amount"],
            "currency": price["currency"],
            "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count"),
            "product": price["product"],
            "usage_type": recurring.get("usage_type"),
        }

    def _new_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _new_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self._now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "discount": None,
            "email": params.get("email"),
            "invoice_prefix": params.get("invoice_prefix") or secrets.token_hex(4).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": _str_dict(params.get("metadata"), "metadata"),
            "name": params.get("name"),
            "next_invoice_sequence": 1,
            "phone": params.get("phone"),
            "preferred_locales": params.get("preferred_locales") or [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.customers[customer["id"]] = customer
        return copy.deepcopy(customer)

    def _new_item(
        self, sub_id: str, price: dict[str, Any], quantity: int | None, start: int, end: int
    ) -> dict:
        return {
            "id": _new_id("si_", 14),
            "object": "subscription_item",
            "created": self._now(),
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "plan": self._plan(price),
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }

    def _new_subscription(
        self,
        customer_id: str,
        items: list[tuple[dict[str, Any], int | None]],
        metadata: dict[str, str],
        trial_days: int | None = None,
    ) -> dict[str, Any]:
        now = self._now()
        recurring = items[0][0]["recurring"]
        end = (
            now + trial_days * DAY
            if trial_days
            else _add_interval(now, recurring["interval"], recurring["interval_count"])
        )
        sub_id = _new_id("sub_")
        sub: dict[str, Any] = {
            "id": sub_id,
            "object": "subscription",
            "billing_cycle_anchor": end if trial_days else now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": items[0][0]["currency"],
            "customer": customer_id,
            "default_payment_method": None,
            "description": None,
            "discounts": [],
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [self._new_item(sub_id, price, quantity, now, end) for price, quantity in items],
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(metadata),
            "pause_collection": None,
            "start_date": now,
            "status": "trialing" if trial_days else "active",
            "trial_end": end if trial_days else None,
            "trial_start": now if trial_days else None,
        }
        self._set_period(sub, now, end)
        self.subscriptions[sub_id] = sub
        return sub

    def _set_period(self, sub: dict[str, Any], start: int, end: int) -> None:
        for item in sub["items"]["data"]:
            item["current_period_start"], item["current_period_end"] = start, end
        if self.period_fields_at_top_level:
            sub["current_period_start"], sub["current_period_end"] = start, end

    def _advance_period(self, sub: dict[str, Any]) -> None:
        item = sub["items"]["data"][0]
        recurring = item["price"]["recurring"]
        start = item["current_period_end"]
        self._set_period(sub, start, _add_interval(start, recurring["interval"], recurring["interval_count"]))
        if sub["status"] == "trialing":
            sub["status"] = "active"

    def _cancel(self, sub: dict[str, Any], reason: str) -> None:
        now = self._now()
        sub.update(status="canceled", canceled_at=sub["canceled_at"] or now, ended_at=now, cancel_at=None)
        sub["cancellation_details"] = {**sub["cancellation_details"], "reason": reason}

    def _open_invoice(self, sub: dict[str, Any]) -> dict[str, Any] | None:
        invoice = self.invoices.get(sub["latest_invoice"] or "")
        return invoice if invoice is not None and invoice["status"] == "open" else None

    def _new_invoice(self, sub: dict[str, Any], status: str, billing_reason: str) -> dict[str, Any]:
        now = self._now()
        customer = self.customers[sub["customer"]]
        invoice_id = _new_id("in_")
        trial = sub["status"] == "trialing"
        start, end = (
            sub["items"]["data"][0]["current_period_start"],
            sub["items"]["data"][0]["current_period_end"],
        )
        lines = []
        for item in sub["items"]["data"]:
            price, metered = item["price"], item["price"]["recurring"]["usage_type"] == "metered"
            amount = 0 if trial or metered else price["unit_amount"] * (item["quantity"] or 0)
            lines.append(
                {
                    "id": _new_id("il_"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": price["currency"],
                    "description": f"{item['quantity'] or 0} x {price['product']}",
                    "invoice": invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "parent": {
                        "type": "subscription_item_details",
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": sub["id"],
                            "subscription_item": item["id"],
                        },
                    },
                    "period": {"end": end, "start": start},
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "unit_amount_decimal": price["unit_amount_decimal"],
                    },
                    "quantity": item["quantity"],
                    "subscription": sub["id"],
                }
            )
        total = sum(line["amount"] for line in lines)
        paid = status == "paid"
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Fake Stripe",
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid else total,
            "attempt_count": 1,
            "attempted": True,
            "auto_advance": not paid,
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "customer": customer["id"],
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "description": None,
            "due_date": None,
            "hosted_invoice_url": f"{self.url}/invoice/{invoice_id}",
            "invoice_pdf": f"{self.url}/invoice/{invoice_id}/pdf",
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}",
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            },
            "period_end": end,
            "period_start": start,
            "status": status,
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": now if paid else None,
                "voided_at": None,
            },
            "subtotal": total,
            "total": total,
        }
        customer["next_invoice_sequence"] += 1
        self.invoices[invoice_id] = invoice
        sub["latest_invoice"] = invoice_id
        return invoice


def _redirect(location: str | None) -> _Reply:
    if not location:
        return _Reply(200, b"<html><body>Done (no URL to return to)</body></html>", "text/html")
    return _Reply(303, b"", "text/html", {"Location": location})


class NoSleepRequestsClient(stripe.RequestsClient):
    """The SDK's default HTTP client, without the >= 0.5 s sleep before each retry."""

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0


# -- HTTP plumbing (shared: tests/fakes/http_base.py) -------------------------------------------


class _Handler(FakeHandler):
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.fake._handle(method, self.path, headers, body)
        except Exception:
            log.exception("fake Stripe server: %s %s failed", method, self.path)
            reply = _Reply(
                500, json.dumps({"error": {"type": "api_error", "message": "fake crashed"}}).encode()
            )
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True
