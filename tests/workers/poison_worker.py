#!/usr/bin/env python3
"""A misbehaving external worker for workers_test: samples/workers/invert.py, except on frames
whose first byte (row 0, column 0, channel 0 of the stage's input) is a poison value:

  13  the program dies on the request (os._exit), every time it is asked
  14  it answers {"ok": false, "error": "poison 14 refused"}
  15  it hangs (sleeps, for 60 s at most) without answering

Any command-line arguments are ignored (the tests pass a tag to find leftover processes).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in samples/workers
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples", "workers"))
import invert  # noqa: E402


def handle(memory, request):
    if isinstance(request, dict) and memory is not None and isinstance(request.get("src"), dict):
        offset = request["src"].get("offset")
        first = int(memory[offset]) if isinstance(offset, int) and 0 <= offset < memory.size else None
        if first == 13:
            sys.stderr.write("poison_worker: dying on frame %s\n" % request.get("frame"))
            sys.stderr.flush()
            os._exit(7)
        if first == 14:
            raise invert.BadRequest("poison 14 refused")
        if first == 15:
            time.sleep(60)
    invert.handle(memory, request)


if __name__ == "__main__":
    sys.exit(invert.serve(handle))
