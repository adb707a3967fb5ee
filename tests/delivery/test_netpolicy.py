"""The network policy: defaults, longest-prefix decisions, URL syntax, and refusal at send time."""

from __future__ import annotations

import pytest

from actors.webhooks.actor import post_event
from actors.webhooks.netpolicy import NetPolicy, UrlRefused, check_url_syntax
from config.settings import NetworkPolicySettings
from tests.delivery.receiver import Receiver

DEFAULT = NetPolicy(NetworkPolicySettings())


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/",
        "http://100.100.100.200/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
        "http://METADATA.google.internal./x",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:80/",
    ],
)
def test_default_policy_denies_link_local_and_metadata(url: str) -> None:
    with pytest.raises(UrlRefused):
        DEFAULT.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:5678/webhook/abc",
        "http://127.0.0.1:8080/",
        "https://10.1.2.3/",
        "http://192.168.1.5/",
        "http://[::1]:9000/",
        "https://hooks.example.com/path?x=1",
        "http://8.8.8.8/",
    ],
)
def test_default_policy_allows_loopback_private_and_public(url: str) -> None:
    DEFAULT.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http://",
        "https:///path",
        "http://user:pw@example.com/",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com/" + "a" * 2100,
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url_syntax(url)


def test_the_most_specific_network_wins() -> None:
    policy = NetPolicy(NetworkPolicySettings(allow=["10.9.9.9/32"], deny=["10.0.0.0/8"], default="deny"))
    policy.check_url("http://10.9.9.9/")
    with pytest.raises(UrlRefused):
        policy.check_url("http://10.9.9.8/")
    with pytest.raises(UrlRefused):
        policy.check_url("http://8.8.8.8/")


async def test_resolved_addresses_are_checked_at_send_time(receiver: Receiver) -> None:
    no_loopback = NetPolicy(NetworkPolicySettings(deny=["127.0.0.0/8", "::1/128"]))
    outcome = await post_event(f"http://localhost:{receiver.port}/hooks/x", b"{}", {}, 5, no_loopback)
    assert outcome.status_code is None
    assert outcome.error
    assert outcome.error.startswith("refused")
    assert not outcome.retryable
    assert receiver.events == []
    unsigned = await post_event(receiver.url("x"), b"{}", {}, 5, DEFAULT)
    assert unsigned.status_code == 401  # the receiver checks signatures; 4xx is not retried
    assert not unsigned.retryable


async def test_network_errors_are_retryable() -> None:
    from taskgate.embedded_redis import free_port

    outcome = await post_event(f"http://127.0.0.1:{free_port()}/", b"{}", {}, 5, DEFAULT)
    assert outcome.status_code is None
    assert outcome.retryable


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://10.0.0.010/",
        "http://host.0x10/",
        "http://example.com/\x00",
        "http://exa\x00mple.com/",
        "http://example.com/\x7f",
    ],
)
def test_other_ipv4_spellings_and_control_characters_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url_syntax(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://10.0.0.10/", "http://a1.example/", "http://x.io./"])
def test_canonical_addresses_and_names_pass_the_syntax_check(url: str) -> None:
    assert check_url_syntax(url)
