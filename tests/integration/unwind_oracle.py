# SPDX-License-Identifier: Apache-2.0
# gdb script (gdb -p PID -batch -x unwind_oracle.py): the independent oracle
# of the unwind tests. Writes to $UNW_OUT
#   bt PC NAME    the physical frames of one thread, innermost first, as gdb
#                 unwinds them (inline and synthesized tail-call frames are
#                 skipped: they are not on the machine stack)
#   sym ADDR NAME gdb's symbol for each address listed in $UNW_ADDRS
# $UNW_THREAD: "main" (the process's main thread) or "other" (the first
# thread that is not the main one).
import os

import gdb


def symbol(addr):
    out = gdb.execute("info symbol 0x%x" % addr, to_string=True)
    return "?" if out.startswith("No symbol") else out.split()[0]


gdb.execute("set backtrace past-main on")
gdb.execute("set backtrace past-entry on")
want = os.environ.get("UNW_THREAD", "main")
threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)
main_tid = gdb.selected_inferior().pid
pick = None
for t in threads:
    is_main = t.ptid[1] == main_tid
    if (want == "main") == is_main:
        pick = t
        break
with open(os.environ["UNW_OUT"], "w") as out:
    if pick is not None:
        pick.switch()
        f = gdb.newest_frame()
        level = 0
        while f is not None:
            if f.type() in (gdb.NORMAL_FRAME, gdb.SIGTRAMP_FRAME):
                pc = f.pc()
                # callers' pcs are return addresses: name the call site
                name = symbol(pc if level == 0 or f.type() == gdb.SIGTRAMP_FRAME else pc - 1)
                out.write("bt 0x%x %s\n" % (pc, name))
                level += 1
            f = f.older()
    for line in open(os.environ["UNW_ADDRS"]):
        if line.strip():
            a = int(line, 16)
            out.write("sym 0x%x %s\n" % (a, symbol(a)))
