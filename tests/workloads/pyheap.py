"""Python heap workload with known ground truth (tests/integration/test_python.sh,
tests/bench/bench_python.sh).

    pyheap.py keep SMALL_MIB BIG_MIB
        prints "ready", waits for a line on stdin (profd attaches meanwhile),
        then keeps, each in a list made beforehand:
          small_keep()        SMALL_MIB of ~97-character strings (146 bytes:
                              pymalloc, <= 512 bytes), str concatenation;
          small_bytes_keep()  SMALL_MIB of bytes(100) (133 bytes: pymalloc
                              through PyObject_Calloc);
          big_keep()          BIG_MIB of ~1500-character strings (1556 bytes:
                              pymalloc forwards them to malloc);
          huge_keep()         BIG_MIB of bytearray(1 MiB) (malloc, mmap'd);
        and prints "kept S SB B H AS ASB AB AH": the sys.getsizeof sums of
        each (what each function asked the allocator for, to a few bytes per
        object), then how many arenas pymalloc mapped during each function
        (its own count, sys._debugmallocstats; -1 without pymalloc). On the
        next line on stdin it drops them all (drop()) and prints "dropped";
        it exits on the line after or when stdin closes.
    pyheap.py churn SECONDS KIND [gate]
        benchmark (tests/bench/bench_pyheap.sh): one object made and the
        previous one dropped per iteration, KIND str (146-byte str
        concatenation) or bytes (bytes(100): PyObject_Calloc(133)), for
        SECONDS; with "gate" it waits for a line on stdin after "ready".
        Prints "objects N cpu S ns_per_object X" (X: CPU time per iteration,
        the interpreter's loop included).

Only the strings a function keeps are allocated while profd watches: the list
that holds them and their suffixes are made before "ready", and the loops
iterate over prepared lists (no new ints), so nothing else is counted under
small_keep or big_keep.
"""
import os
import sys
import tempfile
import time

SMALL = "s" * 90      # + a 6-7 digit suffix: ~97 characters, ~145 bytes
BIG = "b" * 1500       # ~1500 characters, ~1550 bytes


def small_keep(keep, suffixes):
    for j, s in suffixes:
        keep[j] = SMALL + s


def small_bytes_keep(keep, suffixes):
    for j, s in suffixes:
        keep[j] = bytes(100)


def big_keep(keep, suffixes):
    for j, s in suffixes:
        keep[j] = BIG + s


def huge_keep(keep, suffixes):
    for j, s in suffixes:
        keep[j] = bytearray(1 << 20)


def arenas_mapped():
    """pymalloc's count of the arenas it has mapped so far ("# arenas
    allocated total" of sys._debugmallocstats, which writes to fd 2), or -1."""
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        for line in f.read().decode().splitlines():
            if line.startswith("# arenas allocated total"):
                return int(line.split("=")[1].replace(",", ""))
    return -1


def counted(fn, *args):
    """fn(*args), and the arenas pymalloc mapped meanwhile (-1: unknown)."""
    before = arenas_mapped()
    fn(*args)
    after = arenas_mapped()
    return after - before if before >= 0 and after >= 0 else -1


def drop(keeps):
    for k in keeps:
        k[:] = ()


def prepare(mib, template):
    per = sys.getsizeof(template + "1000000")
    n = (mib << 20) // per
    suffixes = [(j, str(1000000 + j)) for j in range(n)]
    return [None] * n, suffixes


def keep_mode(small_mib, big_mib):
    small, ssuf = prepare(small_mib, SMALL)
    smallb, sbsuf = prepare(small_mib, SMALL)
    big, bsuf = prepare(big_mib, BIG)
    huge = [None] * big_mib
    hsuf = [(j, None) for j in range(big_mib)]
    print("ready", flush=True)
    sys.stdin.readline()
    arenas_mapped()  # its own first-call allocations, before any count
    arenas = [counted(small_keep, small, ssuf), counted(small_bytes_keep, smallb, sbsuf),
              counted(big_keep, big, bsuf), counted(huge_keep, huge, hsuf)]
    sizes = [sum(map(sys.getsizeof, k)) for k in (small, smallb, big, huge)]
    print("kept %d %d %d %d %d %d %d %d" % tuple(sizes + arenas), flush=True)
    sys.stdin.readline()
    drop([small, smallb, big, huge])
    print("dropped", flush=True)
    sys.stdin.readline()


def churn_str(suffixes):
    for s in suffixes:
        x = SMALL + s  # one PyObject_Malloc(146) and, at the next one, its free
    return len(suffixes)


def churn_bytes(suffixes):
    for s in suffixes:
        x = bytes(100)  # one PyObject_Calloc(1, 133), then its free
    return len(suffixes)


def churn_mode(seconds, kind, gate):
    churn = {"str": churn_str, "bytes": churn_bytes}[kind]
    suffixes = [str(1000000 + j) for j in range(20000)]
    print("ready", flush=True)
    if gate:
        sys.stdin.readline()
    end = time.time() + seconds
    made = 0
    start = time.process_time()
    while time.time() < end:
        made += churn(suffixes)
    cpu = time.process_time() - start
    print("objects %d cpu %.3f ns_per_object %.1f" % (made, cpu, 1e9 * cpu / made), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "keep":
        keep_mode(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "churn":
        churn_mode(float(sys.argv[2]), sys.argv[3], sys.argv[4:] == ["gate"])
    else:
        sys.exit("pyheap.py: unknown mode %r (keep, churn)" % mode)


if __name__ == "__main__":
    main()
