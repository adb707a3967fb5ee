"""``state.search`` on the real Redis: cursor pages over entries that share a millisecond, and the facets."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from config import keys
from state import StateStore
from state.search import BadCursor, Origin, TaskFilter, search


@pytest.fixture
def store(aredis: aioredis.Redis) -> StateStore:
    return StateStore(aredis, 3600)


async def _pages(store: StateStore, selector: TaskFilter, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        ids, cursor = await search(store.channel, store.ttl_ms, selector, limit, cursor)
        pages.append(ids)
        if cursor is None:
            return pages


async def test_pages_cover_every_entry_once_even_when_many_share_a_millisecond(
    store: StateStore, aredis: aioredis.Redis
) -> None:
    origin = Origin(key="k", labels={"run": "same-ms"})
    for n in range(450):
        await store.create_stage(f"w{n:03d}", "system.ping", {}, origin=origin)
    # every entry at one score (a burst inside one ms): the order is by id, and a cursor must still go on
    score = (await aredis.zscore(keys.TASK_INDEX, "w000")) or 0
    facet = keys.task_index_by_label("run", "same-ms")
    await aredis.zadd(facet, {f"w{n:03d}": score for n in range(450)})

    pages = await _pages(store, TaskFilter(labels={"run": "same-ms"}), 200)
    seen = [wid for page in pages for wid in page]
    assert [len(p) for p in pages] == [200, 200, 50]
    assert seen == [f"w{n:03d}" for n in reversed(range(450))]

    both = await _pages(store, TaskFilter(key="k", labels={"run": "same-ms"}, status="PENDING"), 500)
    assert len(both[0]) == 450
    assert await _pages(store, TaskFilter(key="other"), 10) == [[]]


async def test_a_cursor_that_no_search_made_is_refused(store: StateStore) -> None:
    for bad in ("", "x", "12", "-w1", "12-", "1.5-w1", "12-a b"):
        with pytest.raises(BadCursor):
            await search(store.channel, store.ttl_ms, TaskFilter(), 10, bad)
