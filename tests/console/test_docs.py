"""The API explorer: a valid OpenAPI document, and Swagger UI that renders it offline and tries calls with the key."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from openapi_spec_validator import validate
from playwright.async_api import expect

from tests.console.conftest import Tab
from tests.delivery.test_auth import ADMIN_KEY, keyed_env
from tests.harness import System

pytestmark = pytest.mark.e2e


async def test_the_document_is_valid_openapi_and_the_explorer_tries_calls_with_the_key(
    make_system: Callable[..., System], open_tab: Callable[..., Tab]
) -> None:
    system = make_system(keyed_env())
    system.start_gateway()
    async with aiohttp.ClientSession() as session, session.get(f"{system.base_url}/openapi.json") as resp:
        document = await resp.json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert not any(path.startswith("/ui") for path in document["paths"])  # the console's HTML is no API

    tab = await open_tab(system.base_url, key=ADMIN_KEY)
    page = tab.page
    await page.goto("/docs")
    whoami = page.locator("#operations-auth-get_v1_whoami")
    await expect(whoami).to_be_visible()
    await whoami.locator(".opblock-summary").click()
    await whoami.get_by_role("button", name="Try it out").click()
    await whoami.get_by_role("button", name="Execute").click()
    await expect(whoami.locator(".responses-wrapper .live-responses-table")).to_contain_text('"ops"')
    assert tab.errors == []
