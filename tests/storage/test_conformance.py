"""The Store contract, proved once against every backend (the ``store`` fixture's params)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from imagesig.storage.base import (
    Compacted,
    Event,
    EventType,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
)

from .conftest import Compact


async def take(events: AsyncIterator[Event], n: int, within: float = 5.0) -> list[Event]:
    async with asyncio.timeout(within):
        return [await anext(events) for _ in range(n)]


async def assert_quiet(events: AsyncIterator[Event], within: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(within):
            await anext(events)


def summary(events: list[Event]) -> list[tuple[EventType, str, bytes, bool]]:
    return [(e.type, e.kv.key, e.kv.value, e.created) for e in events]


# -- create / get -------------------------------------------------------------------


async def test_create_then_get_returns_the_value_at_one_revision(store: Store) -> None:
    kv = await store.create("/a/x", b"one")
    assert kv.key == "/a/x"
    assert kv.value == b"one"
    assert kv.create_revision == kv.mod_revision > 0
    assert await store.get("/a/x") == kv


async def test_create_of_an_existing_key_raises_key_exists_and_keeps_the_value(
    store: Store,
) -> None:
    first = await store.create("/a/x", b"one")
    with pytest.raises(KeyExists) as info:
        await store.create("/a/x", b"two")
    assert info.value.key == "/a/x"
    assert await store.get("/a/x") == first


async def test_get_of_a_missing_key_returns_none(store: Store) -> None:
    assert await store.get("/a/missing") is None


async def test_a_deleted_key_can_be_created_again_with_a_new_create_revision(
    store: Store,
) -> None:
    first = await store.create("/a/x", b"one")
    await store.delete("/a/x")
    again = await store.create("/a/x", b"two")
    assert again.create_revision > first.create_revision
    assert await store.get("/a/x") == again


# -- update (compare-and-swap) --------------------------------------------------------


async def test_update_at_the_current_revision_wins(store: Store) -> None:
    created = await store.create("/a/x", b"one")
    updated = await store.update("/a/x", b"two", created.mod_revision)
    assert updated.value == b"two"
    assert updated.create_revision == created.create_revision
    assert updated.mod_revision > created.mod_revision
    assert await store.get("/a/x") == updated


async def test_update_at_a_stale_revision_loses_with_revision_mismatch(store: Store) -> None:
    created = await store.create("/a/x", b"one")
    winner = await store.update("/a/x", b"two", created.mod_revision)
    with pytest.raises(RevisionMismatch) as info:
        await store.update("/a/x", b"three", created.mod_revision)
    assert (info.value.key, info.value.expected, info.value.actual) == (
        "/a/x",
        created.mod_revision,
        winner.mod_revision,
    )
    assert await store.get("/a/x") == winner


@pytest.mark.parametrize("expected_revision", [0, 1, 10**9])
async def test_update_of_a_missing_key_raises_key_not_found_and_creates_nothing(
    store: Store, expected_revision: int
) -> None:
    with pytest.raises(KeyNotFound) as info:
        await store.update("/a/missing", b"v", expected_revision)
    assert info.value.key == "/a/missing"
    assert await store.get("/a/missing") is None


# -- delete ---------------------------------------------------------------------------


async def test_delete_returns_the_last_value_at_the_delete_revision(store: Store) -> None:
    created = await store.create("/a/x", b"one")
    updated = await store.update("/a/x", b"two", created.mod_revision)
    deleted = await store.delete("/a/x")
    assert deleted.key == "/a/x"
    assert deleted.value == b"two"
    assert deleted.create_revision == created.create_revision
    assert deleted.mod_revision > updated.mod_revision
    assert deleted.mod_revision == await store.current_revision()
    assert await store.get("/a/x") is None


async def test_delete_of_a_missing_key_raises_key_not_found(store: Store) -> None:
    with pytest.raises(KeyNotFound):
        await store.delete("/a/missing")
    with pytest.raises(KeyNotFound):
        await store.delete("/a/missing", expected_revision=1)


async def test_delete_at_a_stale_revision_loses_and_keeps_the_key(store: Store) -> None:
    created = await store.create("/a/x", b"one")
    updated = await store.update("/a/x", b"two", created.mod_revision)
    with pytest.raises(RevisionMismatch) as info:
        await store.delete("/a/x", expected_revision=created.mod_revision)
    assert info.value.actual == updated.mod_revision
    assert await store.get("/a/x") == updated
    deleted = await store.delete("/a/x", expected_revision=updated.mod_revision)
    assert deleted.value == b"two"
    assert deleted.mod_revision > updated.mod_revision
    assert await store.get("/a/x") is None


# -- list -----------------------------------------------------------------------------


async def test_list_returns_keys_under_the_prefix_only_in_key_order(store: Store) -> None:
    for key in ["/a/c", "/ab/x", "/a/a", "/a", "/b/a", "/a/b/deep", "/a/b"]:
        await store.create(key, key.encode())
    result = await store.list("/a/")
    assert [kv.key for kv in result.items] == ["/a/a", "/a/b", "/a/b/deep", "/a/c"]
    assert [kv.value for kv in result.items] == [b"/a/a", b"/a/b", b"/a/b/deep", b"/a/c"]
    assert not result.more
    assert [kv.key for kv in (await store.list("/ab/")).items] == ["/ab/x"]
    assert (await store.list("/c/")).items == []


async def test_list_orders_non_ascii_keys_by_code_point(store: Store) -> None:
    keys = ["/u/z", "/u/é", "/u/日本", "/u/A", "/u/\U0001f600"]
    for key in keys:
        await store.create(key, b"v")
    assert [kv.key for kv in (await store.list("/u/")).items] == sorted(keys)
    assert [kv.key for kv in (await store.list("/u/日")).items] == ["/u/日本"]


async def test_list_items_carry_their_revisions(store: Store) -> None:
    created = await store.create("/a/x", b"one")
    updated = await store.update("/a/x", b"two", created.mod_revision)
    assert (await store.list("/a/")).items == [updated]


async def test_list_paginates_with_limit_and_start_after(store: Store) -> None:
    keys = [f"/p/{i}" for i in range(5)]
    for key in keys:
        await store.create(key, b"v")
    await store.create("/q/0", b"v")

    pages: list[list[str]] = []
    start_after = ""
    while True:
        page = await store.list("/p/", limit=2, start_after=start_after)
        pages.append([kv.key for kv in page.items])
        if not page.more:
            break
        start_after = page.items[-1].key
    assert pages == [["/p/0", "/p/1"], ["/p/2", "/p/3"], ["/p/4"]]

    exact = await store.list("/p/", limit=5)
    assert len(exact.items) == 5
    assert not exact.more
    assert (await store.list("/p/", limit=4)).more
    # start_after need not be a key, nor under the prefix.
    assert [kv.key for kv in (await store.list("/p/", start_after="/p/1x")).items] == keys[2:]
    assert [kv.key for kv in (await store.list("/p/", start_after="/a")).items] == keys
    assert (await store.list("/p/", start_after="/p/4")).items == []
    after_all = await store.list("/p/", limit=1, start_after="/z")
    assert (after_all.items, after_all.more) == ([], False)


async def test_list_reports_the_revision_it_was_read_at(store: Store) -> None:
    empty = await store.list("/a/")
    assert empty.revision == await store.current_revision()
    last = await store.create("/a/x", b"one")
    await store.create("/b/y", b"two")
    result = await store.list("/a/")
    assert result.revision == await store.current_revision()
    assert result.revision > last.mod_revision  # the write under /b/ counts too
    paged = await store.list("/a/", limit=1, start_after="/z")
    assert paged.revision == result.revision


async def test_revisions_strictly_increase_across_keys_and_operations(store: Store) -> None:
    start = await store.current_revision()
    revisions = [start]
    a = await store.create("/r/a", b"1")
    revisions.append(a.mod_revision)
    b = await store.create("/r/b", b"1")
    revisions.append(b.mod_revision)
    revisions.append((await store.update("/r/a", b"2", a.mod_revision)).mod_revision)
    revisions.append((await store.delete("/r/b")).mod_revision)
    revisions.append((await store.create("/s/c", b"1")).mod_revision)
    assert revisions == sorted(set(revisions))
    assert await store.current_revision() == revisions[-1]


# -- watch ----------------------------------------------------------------------------


async def test_watch_from_zero_replays_create_modify_and_delete(store: Store) -> None:
    created = await store.create("/w/x", b"one")
    updated = await store.update("/w/x", b"two", created.mod_revision)
    deleted = await store.delete("/w/x")
    async with contextlib.aclosing(store.watch("/w/", 0)) as events:
        got = await take(events, 3)
    assert summary(got) == [
        (EventType.PUT, "/w/x", b"one", True),
        (EventType.PUT, "/w/x", b"two", False),
        (EventType.DELETE, "/w/x", b"two", False),
    ]
    assert [e.kv for e in got] == [created, updated, deleted]


async def test_watch_from_a_mid_revision_skips_earlier_events(store: Store) -> None:
    first = await store.create("/w/x", b"one")
    second = await store.create("/w/y", b"one")
    updated = await store.update("/w/x", b"two", first.mod_revision)
    async with contextlib.aclosing(store.watch("/w/", second.mod_revision)) as events:
        got = await take(events, 1)
        assert [e.kv for e in got] == [updated]
        assert not got[0].created
        await assert_quiet(events)


async def test_watch_sees_writes_made_after_it_started(store: Store) -> None:
    async with contextlib.aclosing(store.watch("/w/", await store.current_revision())) as events:
        waiter = asyncio.create_task(take(events, 4))
        await asyncio.sleep(0.2)  # the watch is waiting before anything is written
        a = await store.create("/w/a", b"1")
        await store.create("/wx/a", b"not under /w/")
        await store.create("/other", b"not under /w/")
        a2 = await store.update("/w/a", b"2", a.mod_revision)
        b = await store.create("/w/b", b"1")
        gone = await store.delete("/w/a", expected_revision=a2.mod_revision)
        got = await waiter
        assert summary(got) == [
            (EventType.PUT, "/w/a", b"1", True),
            (EventType.PUT, "/w/a", b"2", False),
            (EventType.PUT, "/w/b", b"1", True),
            (EventType.DELETE, "/w/a", b"2", False),
        ]
        assert [e.kv for e in got] == [a, a2, b, gone]
        assert [e.kv.mod_revision for e in got] == sorted(e.kv.mod_revision for e in got)
        await assert_quiet(events)


async def test_watch_of_a_compacted_revision_raises_compacted(
    compactable: tuple[Store, Compact],
) -> None:
    store, compact = compactable
    before = await store.current_revision()
    await store.create("/w/x", b"one")
    await store.create("/w/y", b"one")
    await compact()
    with pytest.raises(Compacted) as info:
        async with contextlib.aclosing(store.watch("/w/", before)) as events:
            await take(events, 1)
    assert info.value.requested == before
    assert info.value.oldest > before + 1
    # From the oldest kept revision on, history is still there.
    later = await store.create("/w/z", b"one")
    got: list[Event] = []
    async with contextlib.aclosing(store.watch("/w/", info.value.oldest - 1)) as events:
        while not got or got[-1].kv != later:
            got += await take(events, 1)
    assert all(e.kv.mod_revision >= info.value.oldest for e in got)


# -- concurrency and sizes --------------------------------------------------------------


async def test_concurrent_cas_increments_lose_nothing(store: Store) -> None:
    await store.create("/counter", b"0")

    async def increment(times: int) -> None:
        for _ in range(times):
            while True:
                current = await store.get("/counter")
                assert current is not None
                try:
                    await store.update(
                        "/counter", str(int(current.value) + 1).encode(), current.mod_revision
                    )
                    break
                except RevisionMismatch:
                    continue

    await asyncio.gather(*(increment(25) for _ in range(16)))
    final = await store.get("/counter")
    assert final is not None
    assert final.value == b"400"


@pytest.mark.parametrize("size", [0, 1, 2048, 1 << 20])
async def test_values_round_trip_byte_exact(store: Store, size: int) -> None:
    value = os.urandom(size)
    created = await store.create("/v/x", value)
    assert created.value == value
    stored = await store.get("/v/x")
    assert stored is not None
    assert stored.value == value
    assert (await store.list("/v/")).items[0].value == value
    reversed_value = value[::-1]
    await store.update("/v/x", reversed_value, created.mod_revision)
    assert (await store.delete("/v/x")).value == reversed_value


async def test_ready_when_the_backend_answers(store: Store) -> None:
    assert await store.ready()
