"""Python workload with known ground truth for tests/integration/test_python.sh.

mode "ratio": hot_three() and hot_one() burn CPU in a 3:1 ratio of time
(3 x UNIT loop iterations in one, UNIT in the other, same loop body), plus a recursive
function (recurse(depth) down to depth 0, where it burns) and a caller of
zlib.compress; "threads": the same in two threads. Runs for argv[2] seconds.
"""
import sys
import threading
import time
import zlib

DATA = bytes(range(256)) * 256


UNIT = 20000  # loop iterations: CPU work, not wall time (the host is shared)


def hot_three():
    x = 0
    for i in range(3 * UNIT):
        x += i
    return x


def hot_one():
    x = 0
    for i in range(UNIT):
        x += i
    return x


def recurse(depth):
    if depth == 0:
        x = 0
        for i in range(UNIT // 2):
            x += i
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


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ratio"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    print("ready", flush=True)
    if mode == "threads":
        ts = [threading.Thread(target=loop, args=(seconds,), name="worker%d" % i) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    else:
        loop(seconds)


if __name__ == "__main__":
    main()
