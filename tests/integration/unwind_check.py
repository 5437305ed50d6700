# SPDX-License-Identifier: Apache-2.0
# Checks the user stacks of one process in a profile against gdb (see
# unwind_oracle.py). Usage:
#   unwind_check.py addrs RAW PID                 → distinct user addresses
#   unwind_check.py check RAW PID ORACLE ANCHOR EXTRA_RE [MIN_PCT]
# A sample is right when (1) its user frames end with a frame in function
# ANCHOR followed by exactly the frames gdb unwound below it down to the
# root (same return addresses), and (2) gdb names every one of its frames after a
# function of gdb's backtrace or one matching EXTRA_RE (no wrong frame).
# Prints the share of right samples, weighted by count. Exit status:
#   0  at least MIN_PCT (default 99) of at least 100 samples are right;
#   3  CALLERS LOST: at least 100 samples, gdb's backtrace has ANCHOR, and
#      fewer than MIN_PCT are right (what a negative check expects);
#   2  no verdict: too few samples, or no ANCHOR frame in gdb's backtrace;
#   1  an error (bad arguments, unreadable files, a Python exception).
import re
import sys

PASS, ERROR, NO_VERDICT, CALLERS_LOST = 0, 1, 2, 3
MIN_SAMPLES = 100

KERNEL = 0xFFFF800000000000


def proc_maps(pid):
    """path -> [(start, end, file offset)] of pid's mappings"""
    maps = {}
    for line in open("/proc/%d/maps" % pid):
        f = line.split()
        if len(f) < 6:
            continue
        start, end = (int(x, 16) for x in f[0].split("-"))
        maps.setdefault(f[5], []).append((start, end, int(f[2], 16)))
    return maps


def to_process(addr, mapping, maps):
    """A profile address back into pid's address space. The profile keeps
    one Location per file offset for every process, with the address (and
    mapping start) of the first process that had it, so translate through
    the file offset."""
    if mapping is None:
        return addr
    start, offset, path = mapping
    off = addr - start + offset
    for s, e, o in maps.get(path, []):
        if o <= off < o + (e - s):
            return s + off - o
    return addr


def parse_raw(path, pid):
    locs, maps_, samples, state, cur = {}, {}, [], None, None
    for line in open(path):
        if line.startswith("Samples:"):
            state = "samples"
            continue
        if line.startswith("Locations"):
            state = "locs"
            continue
        if line.startswith("Mappings"):
            state = "maps"
            continue
        if state == "samples":
            m = re.match(r"^\s+(\d+)(?:\s+\d+)*:\s+([\d ]+)$", line)
            if m:
                cur = [int(m.group(1)), [int(x) for x in m.group(2).split()], None]
                samples.append(cur)
                continue
            m = re.search(r"pid:\[(\d+)\]", line)
            if m and cur is not None:
                cur[2] = int(m.group(1))
        elif state == "locs":
            m = re.match(r"^\s+(\d+): 0x([0-9a-f]+)(?: M=(\d+))?", line)
            if m:
                locs[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3) or 0))
        elif state == "maps":
            m = re.match(r"^(\d+): 0x([0-9a-f]+)/0x[0-9a-f]+/0x([0-9a-f]+) (\S+)", line)
            if m:
                maps_[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3), 16), m.group(4))
    pmaps = proc_maps(pid)
    out = []
    for count, ids, spid in samples:
        if spid != pid:
            continue
        addrs = [(locs[i][0], maps_.get(locs[i][1])) for i in ids]
        user = [to_process(a, m, pmaps) for a, m in addrs if a < KERNEL]
        # comparable with gdb's pcs: the leaf of a user-mode sample is the
        # PC itself, every other frame was written as return address - 1
        in_kernel = len(user) != len(addrs)
        pcs = [a if (i == 0 and not in_kernel) else a + 1 for i, a in enumerate(user)]
        out.append((count, user, pcs))
    return out


def name_of(sym, a):
    """gdb's name for a frame address; a return address that is the first
    byte of a function (the signal trampoline after its padding) is named
    by that function."""
    n = sym.get(a, "?")
    return n if n != "?" else sym.get(a + 1, "?")


def main():
    mode, raw, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    samples = parse_raw(raw, pid)
    if mode == "addrs":
        for a in sorted({a for _, user, _ in samples for a in user}):
            print("0x%x\n0x%x" % (a, a + 1))
        return PASS
    if len(sys.argv) < 7:
        print("usage: unwind_check.py check RAW PID ORACLE ANCHOR EXTRA_RE [MIN_PCT]", file=sys.stderr)
        return ERROR
    oracle, anchor, extra = sys.argv[4], sys.argv[5], re.compile(sys.argv[6])
    min_pct = float(sys.argv[7]) if len(sys.argv) > 7 else 99.0
    bt, sym = [], {}
    for line in open(oracle):
        kind, a, name = line.split()
        if kind == "bt":
            bt.append((int(a, 16), name))
        else:
            sym[int(a, 16)] = name
    names = [n for _, n in bt]
    if anchor not in names:
        print("no verdict: gdb's backtrace has no frame in %s: %s" % (anchor, " <- ".join(names)))
        return NO_VERDICT
    # the callers of the anchor frame, as gdb has them (the anchor's own
    # pc varies with the call it is in)
    root = [pc for pc, _ in bt[names.index(anchor) + 1:]]
    allowed = set(names)
    print("gdb: " + " <- ".join(names))
    total = good = 0
    bad = []
    for count, user, pcs in samples:
        total += count
        full = (len(pcs) > len(root) and pcs[len(pcs) - len(root):] == root and
                name_of(sym, user[len(pcs) - len(root) - 1]) == anchor)
        wrong = [name_of(sym, a) for a in user
                 if name_of(sym, a) not in allowed and not extra.match(name_of(sym, a))]
        if full and not wrong:
            good += count
        elif len(bad) < 5:
            bad.append("  %d x %s%s" % (count, " <- ".join(name_of(sym, a) for a in user),
                                         "" if full else "  [chain to the root differs]"))
    share = 100.0 * good / total if total else 0.0
    print("%d of %d samples (%.2f%%) carry gdb's chain from %s to the root, no wrong frame"
          % (good, total, share, anchor))
    for b in bad:
        print(b)
    if total < MIN_SAMPLES:
        print("no verdict: too few samples: %d (need %d)" % (total, MIN_SAMPLES))
        return NO_VERDICT
    if share >= min_pct:
        return PASS
    print("callers lost: %.2f%% < %g%%" % (share, min_pct))
    return CALLERS_LOST


sys.exit(main())
