"""FluidCloud from Python: create a space, upload a file with a permanent public link, print
the link. The key and origin come from FLUIDCLOUD_API_KEY / FLUIDCLOUD_BASE_URL.

    pip install ./py
    python examples/python/quickstart.py [FILE]   (without FILE, uploads a small hello.txt)
"""

import sys

from fluidcloud import ApiError, FluidCloud, FluidCloudError


def main() -> int:
    try:
        with FluidCloud() as fc:
            space = fc.spaces.create("Brand Assets")
            if len(sys.argv) > 1:
                file = fc.files.upload(sys.argv[1], space.id, public=True)
            else:
                file = fc.files.upload(b"Hello from FluidCloud!\n", space.id, name="hello.txt", public=True)
    except ApiError as e:
        # Every error from the service carries its status, detail and request id.
        print(f"{type(e).__name__}: {e} (status {e.status}, request id {e.request_id})", file=sys.stderr)
        return 1
    except (FluidCloudError, OSError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(file.public_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
