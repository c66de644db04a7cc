"""AsyncFluidCloud: the same surface as coroutines, under asyncio."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import fluidcloud
from emulator_proc import start_emulator, stop_emulator


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


def test_async_calls_work_in_a_forked_child(emu):
    async def spaces():
        async with fluidcloud.AsyncFluidCloud(emu.api_key, base_url=emu.base_url) as fc:
            return len(await fc.spaces.list())

    assert run(spaces()) == 1
    pid = os.fork()
    if pid == 0:  # the child: the parent's runtime threads do not exist here
        code = 1
        try:
            signal.alarm(20)  # a hang fails the test instead of blocking it
            code = 0 if run(spaces()) == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def test_progress_callbacks_run_on_the_event_loop(emu):
    async def scenario():
        async with fluidcloud.AsyncFluidCloud(emu.api_key, base_url=emu.base_url) as fc:
            space = (await fc.spaces.list())[0].id
            loop_thread = threading.get_ident()
            threads = set()
            first_progress = asyncio.Event()

            def on_progress(done, total):
                threads.add(threading.get_ident())
                first_progress.set()  # asyncio objects are only safe on their loop's thread

            waiter = asyncio.ensure_future(first_progress.wait())
            await fc.files.upload(b"p" * 300_000, space, on_progress=on_progress)
            await asyncio.wait_for(waiter, 5)
            assert threads == {loop_thread}

            async def coroutine_callback(done, total):
                pass

            with pytest.raises(TypeError, match="plain function"):
                await fc.files.upload(b"c" * 300_000, space, name="c.bin", on_progress=coroutine_callback)
            assert len(await fc.files.list(space)) == 1, "the second upload stopped"

    asyncio.run(scenario(), debug=True)


def test_a_cancelled_async_download_leaves_nothing_behind(tmp_path):
    slow = start_emulator(["--storage-bytes-per-sec", "1MiB"])
    try:

        async def scenario():
            async with fluidcloud.AsyncFluidCloud(slow.api_key, base_url=slow.base_url) as fc:
                space = (await fc.spaces.list())[0].id
                f = await fc.files.upload(os.urandom(1 << 20), space, name="big.bin")
                task = None

                def cancel_once_bytes_arrive(done, total):
                    if done and not task.done():
                        task.cancel()

                task = asyncio.ensure_future(fc.files.download(f.id, tmp_path / "big.bin", on_progress=cancel_once_bytes_arrive))
                with pytest.raises(asyncio.CancelledError):
                    await task

        run(scenario())
    finally:
        stop_emulator(slow)
    # The runtime drops the aborted download on its own thread: wait for that, not a time.
    deadline = time.monotonic() + 10
    while any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(tmp_path.iterdir()) == []


def test_as_user_keeps_the_parents_options(emu):
    from test_surface import user_jwt

    async def scenario():
        svc = emu.new_key(["service:delegate"])["key"]
        async with fluidcloud.AsyncFluidCloud(svc, base_url=emu.base_url, max_retries=0) as parent:
            user = await parent.as_user(user_jwt("u-async"), "talk")
            emu.admin("POST", "/faults", {"rules": [
                {"target": "api", "path_contains": "/quota", "times": 1, "action": "status", "status": 503}]})
            with pytest.raises(fluidcloud.ApiError) as caught:
                await user.quota.usage()  # not retried: max_retries=0 came along
            assert caught.value.status == 503
            assert (await user.quota.usage()).bytes_used == 0

    run(scenario())


EXIT_RIGHT_AFTER = """
import asyncio, sys, fluidcloud
async def main():
    fc = fluidcloud.AsyncFluidCloud(sys.argv[1], base_url=sys.argv[2])
    space = (await fc.spaces.list())[0].id
    await fc.files.list(space)
    await fc.files.upload(b"u" * 100_000, space, on_progress=lambda d, t: None)
asyncio.run(main())
"""


def test_the_interpreter_exits_cleanly_right_after_async_calls(emu):
    # The SDK's threads never hold the GIL for an async call: none can be caught inside
    # Python while the interpreter shuts down (that crashed it, now and then).
    for _ in range(6):
        done = subprocess.run([sys.executable, "-c", EXIT_RIGHT_AFTER, emu.api_key, emu.base_url],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Fatal Python error" not in done.stderr


TIMED_OUT_READ_THEN_EXIT = """
import asyncio, io, sys, time, fluidcloud
class Slow(io.BytesIO):
    def read(self, n=-1):
        time.sleep(0.05)  # the GIL is let go here, with the read still under way
        return super().read(min(n, 4096))
async def main():
    async with fluidcloud.AsyncFluidCloud(sys.argv[1], base_url=sys.argv[2]) as fc:
        space = (await fc.spaces.list())[0].id
        try:
            await asyncio.wait_for(fc.files.upload(Slow(b"s" * (4 << 20)), space), 0.3)
        except asyncio.TimeoutError:
            print("timed out", flush=True)
asyncio.run(main())
"""


def test_the_interpreter_exits_cleanly_while_a_cancelled_uploads_read_is_under_way(emu):
    # The SDK's thread is inside the file object's read when the program ends; it crashed
    # the process (SIGSEGV or SIGABRT) in every run before the exit waited for it.
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", TIMED_OUT_READ_THEN_EXIT, emu.api_key, emu.base_url],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "timed out", done.stderr
        assert done.returncode == 0, (done.returncode, done.stderr)


def test_a_cancelled_call_does_not_stop_a_newer_one_from_settling(emu):
    # A cancelled call's eventfd must not pass to a newer call before the cancellation has
    # unregistered it (it then unregistered the newer call's instead, which never settled).
    async def scenario():
        async with fluidcloud.AsyncFluidCloud(emu.api_key, base_url=emu.base_url) as fc:
            space = (await fc.spaces.list())[0].id

            async def cancelled_soon():
                task = asyncio.ensure_future(fc.files.list(space))
                await asyncio.sleep(0)
                task.cancel()

            for _ in range(200):
                await asyncio.gather(cancelled_soon(), asyncio.wait_for(fc.files.list(space), 10))

    run(scenario())
