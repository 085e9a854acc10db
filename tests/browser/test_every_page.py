"""Every page, at 360 and 1,280 px, in headless Chromium: the public site, the sign-in and
sign-up flow (allauth's pages), and the dashboard as the owner of a workspace in use
(``sweep_workspace``). Each page must:

- be no wider than the screen (on failure: the elements past the right edge);
- have no serious or critical axe-core violation (rule, impact, target selectors);
- log no console error (a missing favicon or script included) and no uncaught exception;
- break no rule of the Content-Security-Policy;
- answer 200 at its own address (not a redirect to another page, not an error).

The pages come from the URL confs: every route declared with ``saas.routes.page`` on the
public and tenant hosts, and allauth's account pages. A page is either visited or listed in
``SKIPPED`` with the reason, so a new page cannot escape the sweep
(``test_every_page_is_swept``). URL parameters are filled from the seeded objects by name
(``PARAMETERS`` for the exceptions).

A full-page screenshot of every page at both widths goes to build/screenshots/ (ignored by
git; ``SCREENSHOTS_DIR=...`` elsewhere), named ``<host>-<path>-<width>.png``, for review.

Also here: the app shell's keyboard path (skip link, workspace switcher, every sidebar
link, user menu, each with a visible focus ring), its sidebar's content fitting the
sidebar, and its menu on a phone.

Run alone: ``make test PYTEST_ARGS="-q tests/browser/test_every_page.py"`` (under a minute
on an idle machine; the failures name the page, the width and each problem).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern

from saas.routes import PAGE
from tests.browser.conftest import PageProblems, axe_serious_violations, horizontal_overflow, signed_in

WIDTHS = (360, 1280)
URLCONFS = {"public": "saas.urls_public", "tenant": "saas.urls_tenant"}
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).parents[2] / "build" / "screenshots")

# Pages not visited, each with its reason. Only what a person cannot see as a page of ours:
# a route that only redirects (where it lands is swept), or a vendor's own UI.
SKIPPED = {
    # redirects only
    "public_site:login": "redirects to allauth's sign-in page (account_login, swept)",
    "tenants:root": "redirects to the dashboard home (tenants:dashboard, swept)",
    "tenants:login": "redirects to the public host's workspace-open, which hands off to the dashboard",
    "account_set_password": "redirects to the password change page: every account has a password",
    "account_confirm_login_code": "sign-in by emailed code is off; with none pending it redirects",
    # Google and Microsoft sign-in are off in the tests (no client id in the environment):
    # their routes answer 404; tests/sso/test_social.py turns them on and follows them
    "google_login": "Google sign-in's start (a POST that redirects to Google), off without a client id",
    "google_callback": "Google's redirect back (needs Google's code), off without a client id",
    "microsoft_login": "Microsoft sign-in's start (a POST redirecting to Microsoft), off without a client id",
    "microsoft_callback": "Microsoft's redirect back (needs Microsoft's code), off without a client id",
    "google_login_by_token": "Google One Tap's token post, off without a client id (and not offered)",
    "socialaccount_login_error": "allauth's page after a failed provider sign-in, answered 401 on purpose",
    "public_site:social-signup": "without a Google or Microsoft sign-in under way it redirects to sign-in",
    # vendors' documentation UIs, served as their projects ship them (not built from the
    # design system); tests/browser/test_csp_browser.py covers them under the policy
    "chat:widget-api-docs": "Swagger UI of the widget API (drf-spectacular's page)",
    "tenants:api-docs": "Swagger UI of the workspace API (drf-spectacular's page)",
    "tenants:api-redoc": "ReDoc of the workspace API (drf-spectacular's page)",
}

# URL parameters that are not filled by their own name from SweepWorkspace.objects:
# route name -> {parameter: key in objects}.
PARAMETERS = {
    "knowledge:source-qa": {"source_id": "qa_source_id"},  # a Q&A source's page
    "quality:test": {"test_id": "bot_test_id"},  # a bot test's page
    "reports:unsubscribe": {"token": "unsubscribe_token"},  # the owner's link of the reports
    "webhooks:endpoint": {"endpoint_id": "webhook_endpoint_id"},  # an endpoint with a delivery
    "webhooks:delivery": {"endpoint_id": "webhook_endpoint_id", "delivery_id": "webhook_delivery_id"},
    "actions:edit": {"action_id": "action_public_id"},  # an action with calls
    "actions:test": {"action_id": "action_public_id"},
    "actions:mcp-edit": {"server_id": "mcp_server_public_id"},  # a server with its tools listed
    "actions:mcp-test": {"server_id": "mcp_server_public_id"},
    "account_confirm_email": {"key": "confirm_email_key"},  # an address waiting for it
    "account_reset_password_from_key": {"uidb36": "uidb36", "key": "reset_key"},  # the owner's
}

# Public pages seen signed in (the owner, on the public host); the others are visited
# signed out. A public page that sends a signed-out visitor to sign in is visited signed
# in as well, so a new page behind sign-in needs no entry here.
SIGNED_IN = {
    "public_site:workspaces",
    "account_logout",  # the confirmation ("Sign out?")
    "account_email",
    "account_change_password",
    "account_reauthenticate",
}


@dataclass(frozen=True)
class Route:
    host: str  # "public" or "tenant"
    route: str  # as declared, e.g. "dashboard/widgets/<int:widget_id>/"
    name: str  # for reverse(), e.g. "widget_builder:edit" or "account_login"
    parameters: tuple[str, ...]

    @property
    def label(self) -> str:
        """The route as a readable path: "/dashboard/widgets/<widget_id>/"."""
        if "^" in self.route or "(?P" in self.route:  # a regular expression (allauth)
            return "/" + self.route.split("^")[0] + "<" + self.name + ">/"
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", self.route)


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p, namespace


def _parameters(pattern: URLPattern) -> tuple[str, ...]:
    if isinstance(pattern.pattern, RegexPattern):
        return tuple(pattern.pattern.regex.groupindex)
    return tuple(pattern.pattern.converters)


def page_routes() -> list[Route]:
    """Every page of both hosts: routes declared with ``saas.routes.page`` and allauth's
    account pages (not ours, so not declared that way). Where two routes share an address
    only the first answers (public_site's signup before allauth's)."""
    routes, seen = [], set()
    for host, urlconf in URLCONFS.items():
        for route, pattern, namespace in _walk(get_resolver(urlconf).url_patterns):
            is_page = getattr(pattern, "route_kind", None) == PAGE
            is_allauth_page = host == "public" and pattern.callback.__module__.startswith("allauth.")
            if not (is_page or is_allauth_page) or (host, route) in seen:
                continue
            seen.add((host, route))
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            routes.append(Route(host, route, name, _parameters(pattern)))
    return routes


ROUTES = page_routes()
SWEPT = [r for r in ROUTES if r.name not in SKIPPED]


def test_every_page_is_swept():
    """Each page route is visited or skipped with a reason, and every parameter it takes
    has a value; a skip entry whose route is gone fails too (the list stays true)."""
    objects_keys = set(_OBJECT_KEYS)
    unfilled = [
        f"{r.label} ({r.name}): no value for <{p}> (seed it in sweep_workspace, or map it in PARAMETERS)"
        for r in SWEPT
        for p in r.parameters
        if PARAMETERS.get(r.name, {}).get(p, p) not in objects_keys
    ]
    names = {r.name for r in ROUTES}
    stale = [f"SKIPPED lists {name!r}, which is no page route" for name in SKIPPED if name not in names]
    stale += [
        f"PARAMETERS lists {name!r}, which is no swept page" for name in PARAMETERS if name not in names
    ]
    assert unfilled + stale == []
    assert {"tenants:dashboard", "widget_builder:edit", "account_login", "public_site:home"} <= names


# What SweepWorkspace.objects holds (kept in step with tests/browser/conftest.py; checked
# against the real objects in the sweep).
_OBJECT_KEYS = (
    "widget_id",
    "widget_key",
    "rule_id",
    "conversation_id",
    "contact_id",
    "kb_id",
    "source_id",
    "qa_source_id",
    "bot_test_id",
    "document_id",
    "token",
    "confirm_email_key",
    "uidb36",
    "reset_key",
    "unsubscribe_token",
    "webhook_endpoint_id",
    "webhook_delivery_id",
    "action_public_id",
    "mcp_server_public_id",
)


@dataclass
class Visitor:
    page: object
    problems: PageProblems


@pytest.fixture(scope="module")
def visitors(browser, live_port, sweep_workspace, django_db_blocker):
    """One browser context per width and per visitor (signed out; the owner, signed in on
    the public host and the workspace's), each opened once for the whole sweep."""
    assert set(sweep_workspace.objects) == set(_OBJECT_KEYS)
    made, contexts = {}, []
    for width in WIDTHS:
        for who in ("anonymous", "owner"):
            context = browser.new_context(viewport={"width": width, "height": 800}, reduced_motion="reduce")
            contexts.append(context)
            page = context.new_page()
            problems = PageProblems(page)
            if who == "owner":
                with django_db_blocker.unblock():
                    signed_in(page, sweep_workspace.owner, "saas.test")
                    signed_in(page, sweep_workspace.owner, sweep_workspace.host)
            made[width, who] = Visitor(page, problems)
    yield made
    for context in contexts:
        context.close()


def _url(route: Route, workspace, port: int) -> tuple[str, str]:
    """The page's host and full URL, its parameters filled from the seeded objects."""
    mapping = PARAMETERS.get(route.name, {})
    kwargs = {p: workspace.objects[mapping.get(p, p)] for p in route.parameters}
    path = reverse(route.name, kwargs=kwargs, urlconf=URLCONFS[route.host])
    host = "saas.test" if route.host == "public" else workspace.host
    return host, f"http://{host}:{port}{path}"


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def _view_name(path: str, host: str) -> str | None:
    try:
        return resolve(path, urlconf=URLCONFS[host]).view_name
    except Resolver404:
        return None


def _visit(visitor: Visitor, url: str):
    visitor.problems.reset()
    return visitor.page.goto(url, wait_until="load")


def _screenshot_name(host: str, route: Route, width: int) -> str:
    path = re.sub(r"[^A-Za-z0-9_]+", "-", route.label.replace("<", "").replace(">", "")).strip("-")
    return f"{host}-{path or 'home'}-{width}.png"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("route", SWEPT, ids=[f"{r.host}:{r.label}" for r in SWEPT])
def test_page(route, width, visitors, sweep_workspace, live_port):
    host, url = _url(route, sweep_workspace, live_port)
    signed_in_first = route.host == "tenant" or route.name in SIGNED_IN
    visitor = visitors[width, "owner" if signed_in_first else "anonymous"]
    response = _visit(visitor, url)
    login_path = reverse("account_login", urlconf=URLCONFS["public"])
    if not signed_in_first and route.name != "account_login" and _path_of(visitor.page.url) == login_path:
        visitor = visitors[width, "owner"]  # a page behind sign-in
        response = _visit(visitor, url)
    page = visitor.page

    problems: list[str] = []
    status = response.status if response else None
    if status != 200:
        problems.append(f"answered {status}")
    landed_on = _view_name(_path_of(page.url), route.host)
    if landed_on != route.name:
        problems.append(f"ended at {page.url} ({landed_on}), not on the page itself")
    if overflow := horizontal_overflow(page):
        problems.append("horizontal overflow: " + overflow)
    for kind, found in visitor.problems.read(page).items():
        problems += [f"{kind}: {item}" for item in found]
    problems += ["axe " + v for v in axe_serious_violations(page)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / _screenshot_name(host, route, width)), full_page=True)
    assert problems == [], f"{url} at {width}px:\n  " + "\n  ".join(problems)


# --- the app shell ----------------------------------------------------------------------

FOCUSED_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  let key = el.tagName.toLowerCase();
  if (el.matches("a.skip")) key = "skip link";
  else if (el.matches("#workspace-menu > summary")) key = "workspace switcher";
  else if (el.matches("#user-menu > summary")) key = "user menu";
  else if (el.matches("#sidebar a")) key = `link "${el.textContent.trim()}" ${el.getAttribute("href")}`;
  return {key, ring: outline || shadow, outline: style.outlineStyle + " " + style.outlineWidth,
          shadow: style.boxShadow};
}
"""
# The sidebar's links a keyboard user must reach: the sections and the plan's upgrade link
# (those inside a closed menu are not focusable until it opens).
SIDEBAR_LINKS_JS = """
() => [...document.querySelectorAll("#sidebar a")]
  .filter(a => !a.closest("details.menu") && a.getClientRects().length)
  .map(a => `link "${a.textContent.trim()}" ${a.getAttribute("href")}`)
"""


def test_app_shell_is_reachable_by_keyboard_with_a_visible_focus_ring(visitors, sweep_workspace, live_port):
    """From the top of the dashboard home, Tab reaches the skip link, the workspace
    switcher, every sidebar link and the user menu, in that order, and each shows a focus
    indicator (an outline or a box-shadow) while focused."""
    page = visitors[1280, "owner"].page
    page.goto(f"http://{sweep_workspace.host}:{live_port}/dashboard/")
    links = page.evaluate(SIDEBAR_LINKS_JS)
    wanted = ["skip link", "workspace switcher", *links, "user menu"]
    assert len([link for link in links if " /dashboard/" in link]) >= 6

    reached: dict[str, dict] = {}
    page.locator("body").focus()
    for _ in range(len(wanted) + 20):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS)
        if focused and focused["key"] in wanted:
            reached.setdefault(focused["key"], focused)
        if "user menu" in reached:
            break
    assert [key for key in wanted if key not in reached] == [], "not reached by Tab"
    assert list(reached) == wanted, "reached in another order"
    no_ring = {
        k: f"outline {v['outline']}, box-shadow {v['shadow']}" for k, v in reached.items() if not v["ring"]
    }
    assert no_ring == {}, "focused without a visible focus indicator"


SIDEBAR_ON_SCREEN_JS = """
() => { const r = document.getElementById("sidebar").getBoundingClientRect();
        return r.left >= 0 && r.right <= innerWidth && r.width > 0; }
"""
SIDEBAR_OFF_SCREEN_JS = """
() => { const s = document.getElementById("sidebar"), r = s.getBoundingClientRect();
        return r.right <= 0 || r.left >= innerWidth || getComputedStyle(s).visibility === "hidden"; }
"""


SIDEBAR_OVERFLOW_JS = """
() => {
  const sidebar = document.getElementById("sidebar");
  const edge = sidebar.getBoundingClientRect().right;
  const past = [...sidebar.querySelectorAll("summary, .plan-chip, nav a")]
    .filter(e => e.getBoundingClientRect().right > edge + 0.5)
    .map(e => (e.id || e.className || e.tagName.toLowerCase())
              + ` ends at ${Math.round(e.getBoundingClientRect().right)}px (sidebar ${Math.round(edge)}px)`);
  return [sidebar.scrollWidth - sidebar.clientWidth, past];
}
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_app_shell_sidebar_content_fits_its_width(width, visitors, sweep_workspace, live_port):
    """Nothing in the sidebar is cut off at its edge (a long workspace name or address is
    truncated with an ellipsis instead); the page-wide check cannot see this, as the
    sidebar scrolls."""
    page = visitors[width, "owner"].page
    page.goto(f"http://{sweep_workspace.host}:{live_port}/dashboard/")
    if width < 769:
        page.locator("#menu-toggle").click()
        page.wait_for_function(SIDEBAR_ON_SCREEN_JS)
    wide = page.evaluate(SIDEBAR_OVERFLOW_JS)
    assert wide == [0, []], f"sidebar content {wide[0]}px wider than the sidebar: {wide[1]}"


def test_app_shell_menu_on_a_phone_opens_and_escape_closes_it(visitors, sweep_workspace, live_port):
    """At 360 px the sidebar is off screen behind the menu button; the button opens it
    (aria-expanded true, on screen) and Escape closes it, focus back on the button."""
    page = visitors[360, "owner"].page
    page.goto(f"http://{sweep_workspace.host}:{live_port}/dashboard/")
    toggle, sidebar = page.locator("#menu-toggle"), page.locator("#sidebar")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    page.wait_for_function(SIDEBAR_OFF_SCREEN_JS)

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.wait_for_function(SIDEBAR_ON_SCREEN_JS)
    assert sidebar.get_by_role("link", name="Inbox").is_visible()

    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    page.wait_for_function(SIDEBAR_OFF_SCREEN_JS)
    assert page.evaluate("document.activeElement.id") == "menu-toggle"  # focus back on the button
