"""Safe fetching, crawling and sitemaps (knowledge.fetching) against a real local web site.

The site listens on 127.0.0.1 and is the ONLY private place the allowlist opens
(KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = ["127.0.0.1:<its port>"]). A second local server (the
"secret" one, another port) stands for everything that must stay unreachable: its request
log must stay empty. Connections are spied on at httpcore2's network backend, so a refusal
is proven to happen before anything connects.
"""

from __future__ import annotations

import datetime
import gzip
import itertools
import socket
import ssl
import tempfile
import time

import httpcore2
import pytest

from knowledge.fetching import (
    CrawlFailure,
    Fetched,
    FetchError,
    RobotsCache,
    crawl,
    default_user_agent,
    fetch,
    normalize_url,
    sitemap_urls,
)
from knowledge.fetching import page as fetching_page
from knowledge.fetching import robots as fetching_robots
from saas.outbound import addresses as outbound_addresses
from tests.knowledge.site_server import SiteServer

PDF = b"%PDF-1.4\n<a href='/from-pdf'>not a link</a>\n%%EOF\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def html(body: str, title: str = "Page") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def build_site(site: SiteServer) -> None:
    ua_token = default_user_agent().split("/")[0]
    site.add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\nCrawl-delay: 5\n\n"
        f"User-agent: {ua_token}\nDisallow: /private/\nDisallow: /nobots/\nCrawl-delay: 5\n\n"
        f"Sitemap: {site.origin}/sitemap_index.xml\n",
        content_type="text/plain",
    )
    site.add(
        "/",
        html(
            """
            <a href="/a">A</a> <a href="b">B</a> <a href="/private/secret">private</a>
            <a href="/nobots/x">not for our bot</a>
            <a href="mailto:someone@example.com">mail</a> <a href="javascript:alert(1)">js</a>
            <a href="#top">top</a> <a href="/a#section">A again</a> <a href="/a?utm_source=x">A tracked</a>
            <a href="http://127.0.0.1:{secret}/">the other port</a> <a href="https://example.com/">outside</a>
            <a href="/doc.pdf">pdf</a> <a href="/image.png">png</a> <a href="/missing">gone</a>
            """.replace("{secret}", str(site.secret_port)),
            "Home",
        ),
    )
    site.add("/a", html('<a href="/a/deep1">deeper</a> <a href="/">home</a>', "A"))
    site.add("/b", html("<p>B</p>", "B"))
    site.add("/a/deep1", html('<a href="/a/deep1/deep2">deeper still</a>', "Deep 1"))
    site.add("/a/deep1/deep2", html("<p>too deep</p>", "Deep 2"))
    site.add("/private/secret", html("<p>secret</p>"))
    site.add("/nobots/x", html("<p>not for us</p>"))
    site.add("/doc.pdf", PDF, content_type="application/pdf")
    site.add("/doc.docx", b"PK\x03\x04docx", content_type=DOCX)
    site.add("/image.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    site.add("/page", html("<p>Hello</p>", "Hello"))
    site.add("/plain", "just text", content_type="text/plain; charset=utf-8")
    site.add("/no-type", "???", content_type=None)
    site.add("/error", "boom", status=500)
    # Redirects
    site.add("/redirect-ok", status=302, headers={"Location": "/redirect-ok-2"})
    site.add("/redirect-ok-2", status=301, headers={"Location": "{origin}/page#frag"})
    site.add("/redirect-loopback", status=302, headers={"Location": f"http://127.0.0.1:{site.secret_port}/"})
    site.add(
        "/redirect-metadata", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    site.add("/redirect-file", status=302, headers={"Location": "file:///etc/passwd"})
    site.add("/redirect-localhost", status=307, headers={"Location": f"http://localhost:{site.port}/page"})
    site.add("/redirect-private-name", status=308, headers={"Location": "http://internal.test/"})
    site.add("/redirect-robots", status=302, headers={"Location": "/private/secret"})
    site.add("/redirect-no-location", status=302)
    site.add("/loop", status=302, headers={"Location": "/loop"})
    # Size, time, encodings
    site.add("/big-declared", b"tiny", content_length=6 * 1024 * 1024)
    site.add("/big-stream", b"x" * 20_000, content_length=None, content_type="text/plain")
    site.add(
        "/bomb",
        gzip.compress(b"\0" * (20 * 1024 * 1024)),
        content_type="text/plain",
        headers={"Content-Encoding": "gzip"},
    )
    site.add("/gzipped", gzip.compress(html("<p>zipped</p>").encode()), headers={"Content-Encoding": "gzip"})
    site.add("/slow", html("late"), delay=3)
    site.add("/drip", b"x" * 200, drip=0.05, content_type="text/plain")
    # Sitemaps
    site.add(
        "/sitemap_index.xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
        <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <sitemap><loc>{site.origin}/sitemap-pages.xml</loc></sitemap>
          <sitemap><loc>{site.origin}/sitemap-more.xml.gz</loc></sitemap>
          <sitemap><loc>{site.origin}/sitemap-nested-index.xml</loc></sitemap>
          <sitemap><loc>http://127.0.0.1:{site.secret_port}/sitemap.xml</loc></sitemap>
          <sitemap><loc>{site.origin}/sitemap-missing.xml</loc></sitemap>
        </sitemapindex>""",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-pages.xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <url><loc>{site.origin}/a</loc><lastmod>2024-01-01</lastmod></url>
          <url><loc>{site.origin}/b?utm_campaign=x</loc></url>
          <url><loc>https://example.com/elsewhere</loc></url>
          <url><loc>http://127.0.0.1:{site.secret_port}/secret</loc></url>
        </urlset>""",
        content_type="text/xml",
    )
    site.add(
        "/sitemap-more.xml.gz",
        gzip.compress(
            f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc>{site.origin}/c</loc></url>
              <url><loc>{site.origin}/a</loc></url>
              <url><loc>{site.origin}/d</loc></url>
            </urlset>""".encode()
        ),
        content_type="application/x-gzip",
    )
    site.add(
        "/sitemap-nested-index.xml",
        f"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <sitemap><loc>{site.origin}/sitemap-nested.xml</loc></sitemap>
        </sitemapindex>""",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-nested.xml",
        f"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <url><loc>{site.origin}/e</loc></url>
        </urlset>""",
        content_type="application/xml",
    )
    site.add(
        "/sitemap-xxe.xml",
        f"""<?xml version="1.0"?>
        <!DOCTYPE urlset [
          <!ENTITY local SYSTEM "file:///etc/passwd">
          <!ENTITY remote SYSTEM "http://127.0.0.1:{site.secret_port}/xxe">
        ]>
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <url><loc>{site.origin}/x&local;</loc></url>
          <url><loc>{site.origin}/y&remote;</loc></url>
          <url><loc>{site.origin}/ok</loc></url>
        </urlset>""",
        content_type="application/xml",
    )
    site.add(
        "/sitemap.txt",
        f"{site.origin}/a\n\n{site.origin}/b\nhttps://example.com/x\n",
        content_type="text/plain",
    )
    site.add(
        "/sitemap-bomb.xml.gz",
        gzip.compress(b"<urlset>" + b" " * (20 * 1024 * 1024) + b"</urlset>"),
        content_type="application/gzip",
    )


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret():
    with SiteServer() as server:
        server.add("/", "the secret server: nobody may reach me")
        yield server


@pytest.fixture(scope="module")
def site(secret):
    server = SiteServer()
    server.secret_port = None
    with server:
        server.secret_port = secret.port
        build_site(server)
        yield server


@pytest.fixture(autouse=True)
def only_the_test_site(settings, site, secret):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = False
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = [f"127.0.0.1:{site.port}"]
    settings.KNOWLEDGE_CRAWL_DELAY_CAP = 0
    site.reset_log()
    secret.reset_log()
    yield
    assert secret.paths() == [], "the secret server was reached"


@pytest.fixture
def connections(monkeypatch):
    """Every TCP connection httpcore2 opens, as (address, port)."""
    seen: list[tuple[str, int]] = []
    real = httpcore2.SyncBackend.connect_tcp

    def spy(self, host, port, *args, **kwargs):
        seen.append((host, port))
        return real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore2.SyncBackend, "connect_tcp", spy)
    return seen


@pytest.fixture
def resolver(monkeypatch):
    """Fake DNS for chosen names: table[name] is a list of answers, one per lookup (the last
    repeats); each answer a list of addresses. Other names resolve for real."""
    real = socket.getaddrinfo
    table: dict[str, list[list[str]]] = {}
    calls: list[str] = []

    def fake(host, port, *args, **kwargs):
        if isinstance(host, str) and host in table:
            answers = table[host]
            answer = answers[min(calls.count(host), len(answers) - 1)]
            calls.append(host)
            result = []
            for address in answer:
                if ":" in address:
                    result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
                else:
                    result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
            return result
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    fake.table = table
    fake.calls = calls
    return fake


def page_paths(site: SiteServer) -> list[str]:
    return [p for p in site.paths() if p != "/robots.txt"]


# --- fetch: the happy path ---------------------------------------------------------------------


def test_fetch_a_page_of_the_allowlisted_site(site, connections):
    page = fetch(site.url("/page"))
    assert isinstance(page, Fetched)
    assert (page.status, page.content_type, page.charset) == (200, "text/html", "utf-8")
    assert b"<p>Hello</p>" in page.body
    assert page.final_url == site.url("/page") and page.redirects == []
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.is_html and page.ok
    seen = site.requests[-1]
    assert seen.headers["Host"] == f"127.0.0.1:{site.port}"
    assert seen.headers["User-Agent"] == default_user_agent()
    assert default_user_agent().startswith("ChatbotPlatformBot/1.0 (+https://saas.test/bot)")
    assert connections == [("127.0.0.1", site.port)]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/doc.pdf", "application/pdf"), ("/doc.docx", DOCX), ("/plain", "text/plain")],
)
def test_documents_and_text_are_accepted(site, path, content_type):
    assert fetch(site.url(path)).content_type == content_type


@pytest.mark.parametrize("path", ["/image.png", "/no-type"])
def test_other_content_types_are_refused_without_reading_the_body(site, path):
    with pytest.raises(FetchError, match="Not an HTML page") as caught:
        fetch(site.url(path))
    assert caught.value.code == "unsupported_type"


def test_gzip_content_encoding_is_decoded(site):
    assert b"<p>zipped</p>" in fetch(site.url("/gzipped")).body


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/error", 500)])
def test_http_errors(site, path, status):
    with pytest.raises(FetchError) as caught:
        fetch(site.url(path))
    assert str(caught.value) == f"HTTP {status}"
    assert (caught.value.code, caught.value.status) == ("http_error", status)


# --- fetch: refused before any connection ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{secret}/",  # loopback, but not the allowlisted port
        "http://localhost:{site}/",  # a name for loopback: not allowlisted even on the site's port
        "http://localhost.:{secret}/",
        "http://[::1]:{site}/",
        "http://0.0.0.0:{site}/",
        "http://127.1:{site}/",  # short and decimal spellings of 127.0.0.1
        "http://2130706433:{site}/",
        "http://[::ffff:127.0.0.1]:{site}/",  # IPv4-mapped IPv6
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # CGNAT
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://224.0.0.1/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    ],
)
def test_private_addresses_are_refused_before_connecting(site, secret, connections, url):
    url = url.format(site=site.port, secret=secret.port)
    with pytest.raises(FetchError, match="This address is on a private network") as caught:
        fetch(url)
    assert caught.value.code == "private_address"
    assert connections == []
    assert site.paths() == []


def test_a_name_resolving_to_private_addresses_is_refused(site, connections, resolver):
    resolver.table["internal.test"] = [["10.1.2.3"]]
    resolver.table["mixed.test"] = [["93.184.216.34", "127.0.0.1"]]  # ANY private address refuses
    for name in ("internal.test", "mixed.test"):
        with pytest.raises(FetchError, match="private network") as caught:
            fetch(f"http://{name}:{site.port}/page")
        assert caught.value.code == "private_address"
    assert connections == [] and site.paths() == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:70/", "javascript:alert(1)", "http:///x"],
)
def test_only_http_and_https(url, connections):
    with pytest.raises(FetchError, match="http:// or https://") as caught:
        fetch(url)
    assert caught.value.code == "bad_url"
    assert connections == []


def test_allow_private_setting_opens_private_addresses(settings, secret):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = True
    assert fetch(secret.url("/")).status == 200
    secret.reset_log()  # reached on purpose here
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = False
    with pytest.raises(FetchError, match="private network"):
        fetch(secret.url("/"))


# --- redirects ---------------------------------------------------------------------------------


def test_redirects_are_followed_within_the_rules(site):
    page = fetch(site.url("/redirect-ok"))
    assert page.final_url == site.url("/page")
    assert page.redirects == [site.url("/redirect-ok"), site.url("/redirect-ok-2")]
    assert page.url == site.url("/redirect-ok")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/redirect-loopback", "private network"),
        ("/redirect-metadata", "private network"),
        ("/redirect-localhost", "private network"),
        ("/redirect-private-name", "private network"),
        ("/redirect-file", "http:// or https://"),
    ],
)
def test_redirects_to_forbidden_places_are_refused(site, connections, resolver, path, reason):
    resolver.table["internal.test"] = [["192.168.0.10"]]
    with pytest.raises(FetchError, match=reason) as caught:
        fetch(site.url(path))
    assert str(caught.value).startswith("The page redirects to ")
    assert connections == [("127.0.0.1", site.port)]  # only the first hop connected
    assert site.paths() == [path]


def test_redirect_limit(site):
    with pytest.raises(FetchError, match="more than 5 times") as caught:
        fetch(site.url("/loop"))
    assert caught.value.code == "too_many_redirects"
    assert site.paths() == ["/loop"] * 6


def test_redirect_without_location(site):
    with pytest.raises(FetchError, match="without a Location"):
        fetch(site.url("/redirect-no-location"))


# --- size and time -----------------------------------------------------------------------------


def test_declared_size_over_the_cap_is_refused_up_front(site):
    with pytest.raises(FetchError, match=r"The page is larger than 5 MB") as caught:
        fetch(site.url("/big-declared"))
    assert caught.value.code == "too_large"


def test_streamed_body_stops_at_the_cap(site):
    with pytest.raises(FetchError, match=r"larger than 9\.8 KB"):
        fetch(site.url("/big-stream"), max_bytes=10_000)
    assert len(fetch(site.url("/big-stream"), max_bytes=20_000).body) == 20_000


def test_gzip_bomb_stops_at_the_cap(site):
    with pytest.raises(FetchError, match="larger than 1 MB"):
        fetch(site.url("/bomb"), max_bytes=1024 * 1024)


def test_a_slow_site_times_out(site):
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"did not answer within 0.3 s") as caught:
        fetch(site.url("/slow"), timeout=0.3)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 1.5


def test_the_timeout_bounds_the_whole_fetch_not_each_read(site):
    # One byte every 50 ms never trips a per-read timeout; the overall deadline stops it.
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"did not answer within 0\.4 s"):
        fetch(site.url("/drip"), timeout=0.4)
    assert time.monotonic() - started < 1.5


# --- DNS rebinding: the connection goes to the checked address ---------------------------------


def test_dns_rebinding_cannot_move_the_connection(site, connections, resolver, monkeypatch):
    # First answer "public", later answers loopback. The public stand-in is 192.0.2.1 (TEST-NET-1,
    # where nothing answers), which the check is told to treat as public for this test.
    is_public = outbound_addresses.address_is_public
    monkeypatch.setattr(outbound_addresses, "address_is_public", lambda a: a == "192.0.2.1" or is_public(a))
    resolver.table["rebind.test"] = [["192.0.2.1"], ["127.0.0.1"]]
    with pytest.raises(FetchError) as caught:
        fetch(f"http://rebind.test:{site.port}/page", timeout=0.5)
    assert caught.value.code in ("connect_failed", "timeout")
    assert resolver.calls == ["rebind.test"]  # resolved once, for the check
    assert connections == [("192.0.2.1", site.port)]  # and connected to what was checked
    assert site.paths() == []  # the local site never saw the request


def test_the_pinned_address_keeps_the_host_name(settings, site, connections, resolver):
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = [f"pinned.test:{site.port}"]
    resolver.table["pinned.test"] = [["127.0.0.1"], ["10.9.9.9"]]
    page = fetch(f"http://pinned.test:{site.port}/page")
    assert page.status == 200
    assert connections == [("127.0.0.1", site.port)]
    assert site.requests[-1].headers["Host"] == f"pinned.test:{site.port}"
    assert resolver.calls == ["pinned.test"]


@pytest.fixture(scope="module")
def tls_site():
    """An HTTPS site whose certificate names secure.test, and a client context trusting it."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secure.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("secure.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.NamedTemporaryFile(suffix=".pem") as bundle:
        bundle.write(cert_pem + key_pem)
        bundle.flush()
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(bundle.name)
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    with SiteServer(tls=server_ctx) as server:
        server.add("/page", html("<p>secure</p>"))
        yield server, client_ctx


def test_https_to_the_pinned_address_verifies_the_host_name(
    settings, tls_site, connections, resolver, monkeypatch
):
    server, client_ctx = tls_site
    monkeypatch.setattr(fetching_page, "_tls_context", lambda: client_ctx)
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = [f"secure.test:{server.port}", f"other.test:{server.port}"]
    resolver.table["secure.test"] = [["127.0.0.1"]]
    resolver.table["other.test"] = [["127.0.0.1"]]
    server.reset_log()
    page = fetch(f"https://secure.test:{server.port}/page")
    assert b"secure" in page.body
    assert connections == [("127.0.0.1", server.port)]
    assert server.requests[-1].headers["Host"] == f"secure.test:{server.port}"
    # Same address, another name: the certificate is checked against the name, and fails.
    with pytest.raises(FetchError, match=r"secure \(https\) connection to other\.test failed") as caught:
        fetch(f"https://other.test:{server.port}/page")
    assert caught.value.code == "tls"


# --- robots.txt --------------------------------------------------------------------------------


def test_robots_disallow_is_honoured_and_fetched_once(site):
    robots = RobotsCache(max_crawl_delay=0)
    assert robots.allowed(site.url("/page"))
    assert not robots.allowed(site.url("/private/secret"))
    assert not robots.allowed(site.url("/nobots/x"))  # the group for our own user agent
    with pytest.raises(FetchError, match=r"robots\.txt disallows this page") as caught:
        fetch(site.url("/private/secret"), robots=robots)
    assert caught.value.code == "robots"
    with pytest.raises(FetchError, match=r"redirects to .*robots\.txt disallows"):
        fetch(site.url("/redirect-robots"), robots=robots)
    assert fetch(site.url("/page"), robots=robots).status == 200
    assert "/private/secret" not in site.paths()
    assert site.paths().count("/robots.txt") == 1
    assert robots.sitemaps(site.url("/")) == [site.url("/sitemap_index.xml")]


class FakeClock:
    """Time as the crawl reads it (``time.monotonic``): it moves only when the crawl sleeps,
    and every sleep is recorded instead of waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_crawl_delay_is_capped(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(fetching_robots, "time", clock)  # the crawl's turns are timed by the fake
    with SiteServer(clock=clock.monotonic) as server:
        server.add("/robots.txt", "User-agent: *\nCrawl-delay: 5\n", content_type="text/plain")
        server.add("/p0", html('<a href="/p1">next</a>'))
        server.add("/p1", html('<a href="/p2">next</a>'))
        server.add("/p2", html("<p>the end</p>"))
        robots = RobotsCache(allow_private=True, max_crawl_delay=0.05, sleep=clock.sleep)
        assert robots.crawl_delay(server.url("/")) == 0.05
        assert RobotsCache(allow_private=True, max_crawl_delay=0).crawl_delay(server.url("/")) == 0
        pages = list(crawl(server.url("/p0"), robots=robots, allow_private=True))
        assert [p.final_url for p in pages] == [server.url(f"/p{n}") for n in range(3)]
        times = [r.at for r in server.requests if r.path != "/robots.txt"]
    sleeps = clock.sleeps
    assert len(sleeps) == 2 and all(0 < s <= 0.05 for s in sleeps)
    assert all(b - a >= 0.03 for a, b in itertools.pairwise(times))


@pytest.mark.parametrize(
    ("robots_route", "allowed"),
    [
        ({"status": 404}, True),  # no robots.txt: everything allowed
        ({"status": 403}, True),
        ({"status": 500}, False),  # server error: nothing allowed (Google's convention)
        ({"status": 429}, False),
        ({"delay": 3}, False),  # timeout: nothing allowed
    ],
)
def test_robots_unavailable(robots_route, allowed):
    with SiteServer() as server:
        server.add("/robots.txt", "User-agent: *\nDisallow:\n", content_type="text/plain", **robots_route)
        server.add("/page", html("<p>hi</p>"))
        robots = RobotsCache(allow_private=True, timeout=0.3)
        assert robots.allowed(server.url("/page")) is allowed
        if not allowed:
            with pytest.raises(FetchError, match=r"robots\.txt could not be read") as caught:
                fetch(server.url("/page"), robots=robots, allow_private=True)
            assert caught.value.code == "robots_unavailable"
            assert "/page" not in server.paths()


# --- crawl -------------------------------------------------------------------------------------


def test_crawl_stays_on_the_site_within_depth_and_robots(site, secret, connections):
    seen_by_callback: list[str] = []
    results = list(
        crawl(site.url("/"), max_depth=2, max_pages=50, on_page=lambda p: seen_by_callback.append(p.url))
    )
    pages = [r for r in results if isinstance(r, Fetched)]
    failures = {r.url: r.reason.code for r in results if isinstance(r, CrawlFailure)}
    assert [p.final_url for p in pages] == [
        site.url("/"),
        site.url("/a"),
        site.url("/b"),
        site.url("/doc.pdf"),
        site.url("/a/deep1"),
    ]
    assert seen_by_callback == [p.url for p in pages]
    assert failures == {
        site.url("/private/secret"): "robots",
        site.url("/nobots/x"): "robots",
        site.url("/missing"): "http_error",
    }
    requested = site.paths()
    assert requested.count("/robots.txt") == 1
    assert "/private/secret" not in requested and "/nobots/x" not in requested
    assert "/a/deep1/deep2" not in requested  # depth 3
    assert "/image.png" not in requested  # not a document
    assert "/from-pdf" not in requested  # PDFs are not parsed for links
    assert len(requested) == len(set(requested))  # nothing fetched twice (/a#section, /a?utm_source=x)
    assert {address for address, _ in connections} == {"127.0.0.1"}  # never example.com
    assert {port for _, port in connections} == {site.port}
    assert secret.paths() == []


def test_crawl_page_limit_and_depth_zero(site):
    results = list(crawl(site.url("/"), max_pages=3))
    assert len(page_paths(site)) == 3
    assert sum(isinstance(r, Fetched) for r in results) == 3
    site.reset_log()
    results = list(crawl(site.url("/"), max_depth=0))
    assert [r.final_url for r in results] == [site.url("/")]
    assert page_paths(site) == ["/"]


def test_crawl_reports_a_refused_start_without_raising(secret, connections):
    (failure,) = list(crawl(secret.url("/")))
    assert isinstance(failure, CrawlFailure) and not failure.ok
    assert "private network" in failure.error
    assert connections == []


def test_crawl_seeds_follow_the_same_rules(site):
    seeds = [site.url("/b"), site.url("/private/secret"), "https://example.com/"]
    results = list(crawl(site.url("/page"), max_depth=0, seeds=seeds))
    assert [r.final_url for r in results if r.ok] == [site.url("/page"), site.url("/b")]
    assert [r.url for r in results if not r.ok] == [site.url("/private/secret")]


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/a#frag", "http://h.test/a"),
        ("b?x=1", "http://h.test/dir/b?x=1"),
        ("../up", "http://h.test/up"),
        ("HTTP://H.TEST:80/A", "http://h.test/A"),
        ("https://h.test:443/", "https://h.test/"),
        ("http://h.test:8080", "http://h.test:8080/"),
        ("/p?utm_source=x&id=3&utm_medium=y&fbclid=z", "http://h.test/p?id=3"),
        ("/with space", "http://h.test/with%20space"),
        ("http://user:pw@h.test/x", "http://h.test/x"),
        ("mailto:a@b.c", None),
        ("javascript:alert(1)", None),
        ("tel:123", None),
        ("ftp://h.test/", None),
        ("", None),
    ],
)
def test_normalize_url(href, expected):
    assert normalize_url(href, "http://h.test/dir/page") == expected


# --- sitemaps ----------------------------------------------------------------------------------


def test_sitemap_index_nested_and_gzip(site):
    urls = sitemap_urls(site.url("/sitemap_index.xml"))
    assert urls == [site.url(p) for p in ("/a", "/b", "/c", "/d", "/e")]
    assert "/sitemap-missing.xml" in site.paths()  # a broken child is skipped, not fatal


def test_sitemap_limits(site):
    assert len(sitemap_urls(site.url("/sitemap_index.xml"), max_urls=3)) == 3
    assert sitemap_urls(site.url("/sitemap_index.xml"), max_nesting=0) == []  # index only, not followed


def test_sitemap_entities_are_never_expanded(site):
    urls = sitemap_urls(site.url("/sitemap-xxe.xml"))
    assert site.url("/ok") in urls
    assert not any("root" in u for u in urls)
    # the remote entity was not fetched: the autouse fixture checks the secret server's log


def test_text_sitemap(site):
    assert sitemap_urls(site.url("/sitemap.txt")) == [site.url("/a"), site.url("/b")]


def test_sitemap_gzip_bomb_and_refused_start(site, secret):
    with pytest.raises(FetchError, match="larger than"):
        sitemap_urls(site.url("/sitemap-bomb.xml.gz"), max_bytes=1024 * 1024)
    with pytest.raises(FetchError, match="private network"):
        sitemap_urls(secret.url("/sitemap.xml"))
