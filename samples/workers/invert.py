#!/usr/bin/env python3
"""A tilefork external worker in Python and numpy (docs/worker-protocol.md, version 1).

    tilefork run --worker-exec "python3 samples/workers/invert.py" -p "py_invert gain=2 | py_max3" -o out frames/

Kernels, both on 8-bit frames of 1, 3 or 4 channels:

  py_invert  gain (real 0..4, default 1):
             dst = min(max(rint(255 - gain * src), 0), 255), computed in float64 with numpy:
             first gain * src, then 255 minus that (two correctly rounded IEEE operations, no
             fused multiply-add), rint rounding half to even, then clipped to 0..255.
             With gain 1 it is exactly 255 - src (cv::bitwise_not).
  py_max3    halo 1: each pixel and channel becomes the largest value of the 3x3 neighbourhood
             around it that lies inside the frame (grey dilation; pixels outside the frame are
             ignored). Equal to cv::dilate(src, dst, 3x3 rectangle) with its default border.

The program attaches to the run's segment (System V by id with shmat through ctypes, or POSIX by
the inherited descriptor with mmap), speaks first with what it offers, then answers one request
line per tile. It never dies on a bad request: anything wrong is answered with
{"ok": false, "error": ...}. It exits when its standard input is closed.

Importable: tests/workers/ builds a misbehaving worker on top of serve() and KERNELS.
"""

import ctypes
import json
import mmap
import os
import sys

import numpy as np

PROTOCOL = 1

DEPTHS = {"8U": np.uint8, "16U": np.uint16, "32F": np.float32}


def py_invert(src, dst, params):
    """dst = saturate(rint(255 - gain * src)) over arrays of the same shape (rows, cols, channels)."""
    gain = float(params["gain"])
    value = 255.0 - gain * src.astype(np.float64)
    np.copyto(dst, np.clip(np.rint(value), 0, 255).astype(np.uint8))


def py_max3(region, dst, params, inner):
    """Max over the in-frame 3x3 neighbourhood. `region` is the whole read rectangle; `inner`
    (x, y) is where the write rectangle starts inside it. Outside the read rectangle is either
    outside the frame or more than one pixel away from every written pixel (checked by the
    caller), so padding with 0, the neutral value of max for uint8, is exact."""
    rows, cols = dst.shape[0], dst.shape[1]
    padded = np.pad(region, ((1, 1), (1, 1), (0, 0)), mode="constant", constant_values=0)
    x, y = inner
    out = padded[y:y + rows, x:x + cols].copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(out, padded[y + dy:y + dy + rows, x + dx:x + dx + cols], out=out)
    np.copyto(dst, out)


# What the hello line declares, and how each kernel runs. "run" receives the src view of the
# read rectangle, the dst view of the write rectangle, the checked parameters and the offset of
# the write rectangle inside the read rectangle.
KERNELS = {
    "py_invert": {
        "declaration": {
            "name": "py_invert",
            "summary": "negative image in numpy: rint(255 - gain * v) clipped to 0..255",
            "halo": 0,
            "depths": ["8U"],
            "channels": [1, 3, 4],
            "params": [{"name": "gain", "type": "real", "default": 1, "min": 0, "max": 4,
                        "help": "scale applied before inverting"}],
        },
        "run": lambda region, dst, params, inner: py_invert(
            region[inner[1]:inner[1] + dst.shape[0], inner[0]:inner[0] + dst.shape[1]], dst, params),
    },
    "py_max3": {
        "declaration": {
            "name": "py_max3",
            "summary": "3x3 maximum (grey dilation) in numpy, frame edges ignored",
            "halo": 1,
            "depths": ["8U"],
            "channels": [1, 3, 4],
            "params": [],
        },
        "run": py_max3,
    },
}


class BadRequest(Exception):
    pass


def attach(segment, size):
    """Maps the run's segment read-write and returns (a flat uint8 numpy array over it, what
    keeps the mapping alive), or (None, None) for "none"."""
    if segment == "none":
        return None, None
    if size <= 0:
        raise RuntimeError("TILEFORK_SEGMENT_SIZE is %d" % size)
    kind, _, value = segment.partition(":")
    if kind == "sysv":
        libc = ctypes.CDLL(None, use_errno=True)
        shmat = libc.shmat
        shmat.restype = ctypes.c_void_p  # the default c_int would truncate the address
        shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        address = shmat(int(value), None, 0)
        if address is None or address == ctypes.c_void_p(-1).value:
            errno = ctypes.get_errno()
            raise RuntimeError("shmat(%s) failed: %s" % (value, os.strerror(errno)))
        memory = (ctypes.c_ubyte * size).from_address(address)
        return np.frombuffer(memory, dtype=np.uint8), memory
    if kind == "fd":
        mapping = mmap.mmap(int(value), size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        return np.frombuffer(mapping, dtype=np.uint8), mapping
    raise RuntimeError("unknown TILEFORK_SEGMENT %r" % segment)


def integer(obj, key, where):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest("%s.%s is not an integer" % (where, key))
    return value


def plane(memory, desc, name):
    """A (rows, cols, channels) numpy view of a frame described by `desc`; numpy itself refuses
    a view that would reach past the end of the segment."""
    if not isinstance(desc, dict):
        raise BadRequest("%s is missing" % name)
    depth = desc.get("depth")
    if depth not in DEPTHS:
        raise BadRequest("%s.depth %r is not one of %s" % (name, depth, ", ".join(DEPTHS)))
    dtype = np.dtype(DEPTHS[depth])
    offset, rows, cols, channels, step = (integer(desc, key, name)
                                          for key in ("offset", "rows", "cols", "channels", "step"))
    if offset < 0 or rows < 1 or cols < 1 or channels < 1 or step < cols * channels * dtype.itemsize:
        raise BadRequest("%s is not a valid plane: %s" % (name, json.dumps(desc)))
    if offset + (rows - 1) * step + cols * channels * dtype.itemsize > memory.size:
        raise BadRequest("%s reaches past the end of the segment (%d bytes)" % (name, memory.size))
    return np.ndarray((rows, cols, channels), dtype=dtype, buffer=memory, offset=offset,
                      strides=(step, channels * dtype.itemsize, dtype.itemsize))


def rect(value, name, frame):
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise BadRequest("%s is not [x, y, width, height]" % name)
    x, y, w, h = value
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > frame.shape[1] or y + h > frame.shape[0]:
        raise BadRequest("%s %s is not inside the %dx%d frame" % (name, value, frame.shape[1], frame.shape[0]))
    return x, y, w, h


def checked_params(declaration, given):
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise BadRequest("params is not an object")
    params = {}
    for spec in declaration["params"]:
        value = given.get(spec["name"], spec["default"])
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise BadRequest("parameter %s is not a number" % spec["name"])
        if spec["type"] == "int" and value != int(value):
            raise BadRequest("parameter %s = %r is not an integer" % (spec["name"], value))
        if not spec["min"] <= value <= spec["max"]:
            raise BadRequest("parameter %s = %r is out of range %r..%r" % (spec["name"], value, spec["min"], spec["max"]))
        params[spec["name"]] = value
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise BadRequest("unknown parameter %s for %s" % (", ".join(unknown), declaration["name"]))
    return params


def handle(memory, request):
    """Runs one tile request; raises on anything wrong with it."""
    if not isinstance(request, dict):
        raise BadRequest("a request must be a JSON object")
    if request.get("op") != "tile":
        raise BadRequest("unknown op %r" % request.get("op"))
    name = request.get("kernel")
    if name not in KERNELS:
        raise BadRequest("unknown kernel %r" % name)
    if memory is None:
        raise BadRequest("no segment is attached (TILEFORK_SEGMENT=none)")
    kernel = KERNELS[name]
    declaration = kernel["declaration"]
    params = checked_params(declaration, request.get("params"))
    src = plane(memory, request.get("src"), "src")
    dst = plane(memory, request.get("dst"), "dst")
    if src.shape != dst.shape or src.dtype != dst.dtype:
        raise BadRequest("src and dst differ in size or type: %s must keep its input's type" % name)
    if request["src"]["depth"] not in declaration["depths"]:
        raise BadRequest("%s takes depths %s, not %s" % (name, "/".join(declaration["depths"]), request["src"]["depth"]))
    if src.shape[2] not in declaration["channels"]:
        raise BadRequest("%s takes %s channels, not %d" % (name, "/".join(map(str, declaration["channels"])), src.shape[2]))
    rx, ry, rw, rh = rect(request.get("read"), "read", src)
    wx, wy, ww, wh = rect(request.get("write"), "write", src)
    # The read rectangle must hold the write rectangle grown by the halo, clipped to the frame.
    halo = declaration["halo"]
    need_x0, need_y0 = max(wx - halo, 0), max(wy - halo, 0)
    need_x1, need_y1 = min(wx + ww + halo, src.shape[1]), min(wy + wh + halo, src.shape[0])
    if rx > need_x0 or ry > need_y0 or rx + rw < need_x1 or ry + rh < need_y1:
        raise BadRequest("read %s does not cover write %s grown by the halo %d" % (request["read"], request["write"], halo))
    region = src[ry:ry + rh, rx:rx + rw]
    kernel["run"](region, dst[wy:wy + wh, wx:wx + ww], params, (wx - rx, wy - ry))


def hello():
    return {"tilefork_worker": PROTOCOL, "kernels": [k["declaration"] for k in KERNELS.values()]}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve(handler=handle):
    segment = os.environ.get("TILEFORK_SEGMENT", "none")
    size_text = os.environ.get("TILEFORK_SEGMENT_SIZE", "0") or "0"
    try:
        memory, keep = attach(segment, int(size_text))
    except Exception as error:  # say so on stderr, and fail every tile with the reason
        sys.stderr.write("invert.py: cannot attach %s: %s\n" % (segment, error))
        memory, keep, reason = None, None, str(error)
    else:
        reason = None
    try:
        send(hello())
        while True:
            line = sys.stdin.readline()
            if not line:
                break
            if not line.strip():
                continue
            try:
                if reason is not None:
                    raise RuntimeError("the segment could not be attached: " + reason)
                handler(memory, json.loads(line))
                answer = {"ok": True}
            except Exception as error:  # never die on a bad request
                answer = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)
                          if not isinstance(error, BadRequest) else str(error)}
            send(answer)
    except BrokenPipeError:  # tilefork went away: nothing more to say (and nothing to flush)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    del memory, keep
    return 0


if __name__ == "__main__":
    sys.exit(serve())
