"""Every call to a server a tenant names goes through here (LLM base URLs, embedding
endpoints, knowledge fetching, and the outbound webhooks to come).

    url_host_check(url)          http(s) only, every address the host resolves to is public
    address_is_public(address)   the address rule (no loopback, private, link-local, ...)
    endpoint_key_kept(old, new)  the key-wipe rule: a stored key stays only with its endpoint
"""

from .addresses import UnsafeAddress, address_is_public, url_host_check
from .keys import endpoint_key_kept

__all__ = ["UnsafeAddress", "address_is_public", "endpoint_key_kept", "url_host_check"]
