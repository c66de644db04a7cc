"""AsyncFluidCloud: the same surface as coroutines, under asyncio."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

import fluidcloud


def run(coro):
    return asyncio.run(coro)


def test_async_surface(emu, tmp_path):
    async def scenario():
        async with fluidcloud.AsyncFluidCloud(emu.api_key, base_url=emu.base_url) as fc:
            space = (await fc.spaces.list())[0].id
            folder = await fc.folders.create("a", space)
            assert [f.id for f in await fc.folders.list(space)] == [folder.id]
            data = bytes(range(256)) * 400  # multipart at the module's 64 KiB threshold
            calls = []
            f = await fc.files.upload(data, space, folder_id=folder.id, on_progress=lambda d, t: calls.append(d))
            assert f.sha256 == hashlib.sha256(data).hexdigest() and calls[-1] == len(data)
            assert (await fc.files.get(f.id)).id == f.id
            link = await fc.files.public_url(f.id)
            assert link.expires_at is None
            assert len(await fc.shares.list(file_id=f.id)) == 1
            dest = tmp_path / "copy.bin"
            await fc.files.download(f.id, dest)
            assert dest.read_bytes() == data
            assert (await fc.quota.usage()).bytes_used == len(data)
            with pytest.raises(fluidcloud.NotFoundError):
                await fc.files.get("00000000-0000-4000-8000-000000000000")
            # Many calls at once on one client.
            got = await asyncio.gather(*(fc.files.get(f.id) for _ in range(20)))
            assert {g.id for g in got} == {f.id}

    run(scenario())


def test_the_event_loop_keeps_running_during_an_async_upload(emu):
    async def scenario():
        async with fluidcloud.AsyncFluidCloud(emu.api_key, base_url=emu.base_url) as fc:
            space = (await fc.spaces.list())[0].id
            ticks = 0

            async def tick():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)

            ticker = asyncio.ensure_future(tick())
            await fc.files.upload(b"q" * (2 * 1024 * 1024), space)
            ticker.cancel()
            assert ticks > 5

    run(scenario())
