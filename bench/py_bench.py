"""One measurement of a Python client, in a process of its own (run by bench/python.sh).

    python py_bench.py upload BASE KEY PATH      -> {"seconds", "growth_mib"}
    python py_bench.py small BASE KEY COUNT      -> {"seconds"} for COUNT uploads of 16 KiB
    python py_bench.py get BASE KEY COUNT        -> {"seconds"} for COUNT files.get calls

Whichever `fluidcloud` the interpreter imports is measured: the official one or ours.
"""

import json
import sys
import time

import fluidcloud


def rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def main() -> None:
    what, base, key = sys.argv[1:4]
    fc = fluidcloud.FluidCloud(key, base_url=base)
    space = fc.spaces.list()[0].id
    if what == "upload":
        baseline = rss_kib("VmRSS")
        started = time.perf_counter()
        fc.files.upload(sys.argv[4], space)
        seconds = time.perf_counter() - started
        growth = (rss_kib("VmHWM") - baseline) / 1024
        print(json.dumps({"seconds": seconds, "growth_mib": growth}))
    elif what == "small":
        data = b"s" * 16384
        started = time.perf_counter()
        for i in range(int(sys.argv[4])):
            fc.files.upload(data, space, name=f"s{i}.bin")
        print(json.dumps({"seconds": time.perf_counter() - started}))
    elif what == "get":
        file_id = fc.files.upload(b"g", space).id
        started = time.perf_counter()
        for _ in range(int(sys.argv[4])):
            fc.files.get(file_id)
        print(json.dumps({"seconds": time.perf_counter() - started}))
    else:
        raise SystemExit(f"unknown measurement {what}")


main()
