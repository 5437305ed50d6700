"""Python workload with known ground truth for tests/integration/test_python.sh.

mode "ratio": hot_three() and hot_one() burn CPU in a 3:1 ratio of time
(3 x UNIT loop iterations in one, UNIT in the other, same loop body), each
followed by gap(), which does nothing (a canary: a sample of the function
before it attributed to it shows), plus a recursive function (recurse(depth)
down to depth 0, where it burns), a caller of zlib's deflate and spacer(),
which burns a random amount. The loop makes no system call (see loop()).
With a path in argv[3], the thread CPU time of a call of hot_three() and
of hot_one() (the ground truth: medians measured with thread_time_ns before
the run) is written there as "three_ns one_ns" before "ready";
"threads": the same in two threads; "gil": two threads running hot_one() in
gil_spin(), each waiting for the GIL the other holds; "alloc": alloc_big()
allocates 64 KiB bytearrays (libc malloc) about 2000 times a second;
"exec": before_exec() for 2 s, then the process execs the same
interpreter on this script in mode "ratio"; "remap": hot_three() and hot_one(), and every ~40 ms, machine_spin() runs
native code in a new executable mapping; "spawn": spawn() starts 4 threads (threading.Thread(...).start()) about 90
times a second; "deep": argv[3] frames of deep() above hot_one()
(benchmarks). Runs for argv[2] seconds.
"""
import os
import random
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
SPACE = [(None,) * (i * UNIT // 16) for i in range(17)]  # spacer(): 0 to UNIT


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


def compress_caller(z):
    # One compressor for the whole run: zlib.compress() allocates and frees
    # its 256 KiB state on every call, 4 brk() system calls (see loop())
    return z.compress(DATA) + z.flush(zlib.Z_SYNC_FLUSH)


def gap():
    return None


def spacer(n):
    # Burns a random amount of CPU between two rounds of hot_three and
    # hot_one: without it a round takes ~1 ms of CPU every time, close to
    # the sampling period (1 or 2 ms), and a periodic sampler locks onto
    # the same phase of the round for many rounds (aliasing: the shares
    # read then stray by several points from run to run).
    x = False
    for _ in SPACE[n]:
        x = not x
    return x


def calibrate():
    # The ground truth: the thread CPU time of a call of each, the median of
    # 100 calls alternated (robust to an interrupt or a cache flushed by a
    # preemption in some calls; thread_time_ns is a system call: not in
    # loop(), see there).
    clock = time.thread_time_ns
    threes, ones = [], []
    for _ in range(100):
        t0 = clock()
        hot_three()
        t1 = clock()
        hot_one()
        t2 = clock()
        threes.append(t1 - t0)
        ones.append(t2 - t1)
    threes.sort()
    ones.sort()
    return threes[50], ones[50]


def loop(seconds):
    # No system call in the loop, and hot_three() and hot_one() in a random
    # order: a thread is mostly preempted at a system call's return, and
    # gets the CPU back when the task before it is preempted, at a timer
    # interrupt (the cpu-clock sampling timer among them), so its next
    # sample is a whole period away. Under load, code that runs right after
    # a system call (or in a fixed place after anything else) is
    # under-sampled: with zlib.compress()'s brk() calls before hot_three(),
    # profd read 69-73% instead of 75%; with thread_time_ns() around each
    # call, 76-79%.
    z = zlib.compressobj(9)
    rand = random.Random(1).randrange
    end = time.time() + seconds
    while time.time() < end:
        if rand(2):
            hot_three()
            gap()
            hot_one()
        else:
            hot_one()
            gap()
            hot_three()
        gap()
        recurse(12)
        compress_caller(z)
        spacer(rand(17))


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


def spawn(n):
    # threading.Thread(...).start(): pthread_create under this function
    ts = [threading.Thread(target=gap) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def spawn_loop(seconds):
    end = time.time() + seconds
    while time.time() < end:
        spawn(4)
        time.sleep(0.01)


# x86-64: mov ecx, 0x100000; 1: dec ecx; jnz 1b; ret (about a millisecond)
SPIN_CODE = bytes.fromhex("b900001000" "ffc9" "75fc" "c3")


def machine_spin(keep):
    # Native code in a new executable mapping: a sample there is in a
    # mapping profd does not know yet, so it rescans the process's maps.
    import ctypes
    import mmap
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(SPIN_CODE)
    keep.append(m)  # kept mapped: each one is at a new address
    f = ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
    for _ in range(20):
        f()


def remap_loop(seconds):
    end = time.time() + seconds
    keep = []
    while time.time() < end:
        for _ in range(50):
            hot_three()
            hot_one()
        machine_spin(keep)


def before_exec(seconds):
    end = time.time() + seconds
    while time.time() < end:
        hot_one()


def exec_again(seconds):
    # The same interpreter in the same process: only the exec tells the
    # code objects after it from those before (same pid, start time,
    # interpreter file and, for a non-PIE python, load address)
    before_exec(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the "ready" of the next image goes nowhere
    os.execv(sys.executable, [sys.executable, __file__, "ratio", str(seconds)])


def deep(depth, seconds):
    if depth > 0:
        return deep(depth - 1, seconds)
    end = time.time() + seconds
    while time.time() < end:
        hot_one()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "ratio"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    if mode == "ratio" and len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            f.write("%d %d\n" % calibrate())
    print("ready", flush=True)
    if mode == "deep":  # benchmark: argv[3] Python frames, hot at the bottom
        deep(int(sys.argv[3]) if len(sys.argv) > 3 else 50, seconds)
    elif mode == "exec":
        exec_again(seconds)
    elif mode == "remap":
        remap_loop(seconds)
    elif mode == "spawn":
        spawn_loop(seconds)
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
