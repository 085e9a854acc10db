"""Every call to a server a tenant names goes through here (LLM base URLs, embedding
endpoints, knowledge fetching, and the outbound webhooks to come).

    address_is_public(address)   the address rule (no loopback, private, link-local, ...)
    url_host_check(url)          http(s) only, every address the host resolves to is public:
                                 up front, for a clear message when a tenant saves a URL
    host_addresses_checked(host, port, policy=)   one lookup, every address judged
    AddressPolicy, SettingsPolicy, TENANT_ENDPOINTS   where private addresses are allowed
                                 (development settings, an allow-list of "host:port")
    PinnedSyncBackend, PinnedAsyncBackend   httpcore2 backends: resolve once per connection,
                                 refuse unless the rule passes, connect to a checked address
    GuardedTransport, GuardedAsyncTransport  the same under httpx2 (SDK clients)
    refusal_in(exc)              the UnsafeAddress behind an SDK's error, if any
    endpoint_key_kept(old, new)  the key-wipe rule: a stored key stays only with its endpoint

The SDK clients (anthropic, openai) are set up in ``saas.outbound.sdk``, imported by those
who call a model: the SDKs load only there.

The guarantee is the backends': the up-front check only explains. Redirects: SDK clients
never follow them; ``knowledge.fetching`` follows them by hand, each hop through a new
pinned connection.
"""

from .addresses import (
    UnsafeAddress,
    address_is_public,
    host_addresses_checked,
    host_resolve,
    refusal_in,
    url_host_check,
)
from .backends import DeadlineStream, PinnedAsyncBackend, PinnedSyncBackend
from .keys import endpoint_key_kept
from .policy import TENANT_ENDPOINTS, AddressPolicy, PrivateAllowance, SettingsPolicy, host_port
from .transports import GuardedAsyncTransport, GuardedTransport

__all__ = [
    "TENANT_ENDPOINTS",
    "AddressPolicy",
    "DeadlineStream",
    "GuardedAsyncTransport",
    "GuardedTransport",
    "PinnedAsyncBackend",
    "PinnedSyncBackend",
    "PrivateAllowance",
    "SettingsPolicy",
    "UnsafeAddress",
    "address_is_public",
    "endpoint_key_kept",
    "host_addresses_checked",
    "host_port",
    "host_resolve",
    "refusal_in",
    "url_host_check",
]
