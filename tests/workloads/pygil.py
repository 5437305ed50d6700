"""GIL contention between two CPU-bound threads, for
tests/integration/test_python.sh.

usage: pygil.py SECONDS   (prints "ready TID_A TID_B" once both threads
                           compute: the Linux thread ids of spin_a, spin_b)

Two threads run pure Python loops, spin_a and spin_b, for SECONDS. Only the
thread that holds the GIL runs: the other waits in the interpreter's
take_gil() until the holder drops it (asked to every switch interval,
5 ms): while one runs, the other waits, so each waits about as long as
the other ran. On an idle machine that is W/2 each over a window of W
seconds. The main thread waits in join() (the GIL released) and takes
no part.
"""
import sys
import threading
import time

SECONDS = float(sys.argv[1])
end = time.monotonic() + SECONDS
running = threading.Barrier(3)
tids = {}


def spin_a():
    tids["a"] = threading.get_native_id()
    running.wait()
    x = 0
    while time.monotonic() < end:  # SPIN_A_LINE: the GIL is taken back here
        x += 1


def spin_b():
    tids["b"] = threading.get_native_id()
    running.wait()
    x = 0
    while time.monotonic() < end:  # SPIN_B_LINE: the GIL is taken back here
        x += 1


threads = [threading.Thread(target=spin_a), threading.Thread(target=spin_b)]
for t in threads:
    t.start()
running.wait()
print("ready %d %d" % (tids["a"], tids["b"]), flush=True)
for t in threads:
    t.join()
