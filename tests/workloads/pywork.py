"""Python workload with known ground truth for tests/integration/test_python.sh.

mode "ratio": hot_three() and hot_one() burn CPU in a 3:1 ratio of time
(3 x UNIT loop iterations in one, UNIT in the other, same loop body), plus a recursive
function (recurse(depth) down to depth 0, where it burns) and a caller of
zlib.compress; "threads": the same in two threads; "gil": two threads
running hot_one() in gil_spin(), each waiting for the GIL the other holds; "alloc": alloc_big()
allocates 64 KiB bytearrays (libc malloc) about 2000 times a second;
"deep": argv[3] frames of deep() above hot_one() (benchmarks). Runs for argv[2] seconds.
"""
import sys
import threading
import time
import zlib

DATA = bytes(range(256)) * 256


UNIT = 20000  # loop iterations: CPU work, not wall time (the host is shared)
# Iterating tuples of None and toggling a bool allocates nothing: the cost
# of an iteration does not depend on the allocator's state or int sizes.
THREE = (None,) * (3 * UNIT)
ONE = (None,) * UNIT
HALF = (None,) * (UNIT // 2)


def hot_three():
    x = False
    for _ in THREE:
        x = not x
    return x


def hot_one():
    x = False
    for _ in ONE:
        x = not x
    return x


def recurse(depth):
    if depth == 0:
        x = False
        for _ in HALF:
            x = not x
        return x
    return recurse(depth - 1)


def compress_caller():
    return zlib.compress(DATA, 9)


def loop(seconds):
    end = time.time() + seconds
    while time.time() < end:
        hot_three()
        hot_one()
        recurse(12)
        compress_caller()


def gil_spin(seconds):
    end = time.time() + seconds
    while time.time() < end:
        hot_one()


def alloc_big(keep):
    # 64 KiB objects: above pymalloc's 512 bytes, so libc malloc serves them
    keep.append(bytearray(65536))


def alloc_loop(seconds):
    end = time.time() + seconds
    keep = []
    while time.time() < end:
        alloc_big(keep)
        if len(keep) > 64:
            del keep[:32]
        time.sleep(0.0005)


def deep(depth, seconds):
    if depth > 0:
        return deep(depth - 1, seconds)
    end = time.time() + seconds
    while time.time() < end:
        hot_one()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ratio"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    print("ready", flush=True)
    if mode == "deep":  # benchmark: argv[3] Python frames, hot at the bottom
        deep(int(sys.argv[3]) if len(sys.argv) > 3 else 50, seconds)
    elif mode == "alloc":
        alloc_loop(seconds)
    elif mode == "gil":  # two CPU-bound threads: each waits for the GIL
        ts = [threading.Thread(target=gil_spin, args=(seconds,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    elif mode == "threads":
        ts = [threading.Thread(target=loop, args=(seconds,), name="worker%d" % i) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    else:
        loop(seconds)


if __name__ == "__main__":
    main()
