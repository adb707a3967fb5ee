"""A task's callback URL, checked at submit against the network policy (checked again when it is sent)."""

from __future__ import annotations

from actors.validation import InvalidInput
from actors.webhooks.netpolicy import NetPolicy, UrlRefused
from config.settings import NetworkPolicySettings


def check_callback(policy: NetworkPolicySettings, url: str | None) -> None:
    """Refuse a callback URL the network policy would never let us reach (checked again at send time).

    Raises:
        InvalidInput: the URL is malformed, or names a denied host or address.
    """
    if url is None:
        return
    try:
        NetPolicy(policy).check_url(url)
    except UrlRefused as exc:
        raise InvalidInput(str(exc), "$.callback") from None
