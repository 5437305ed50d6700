# SPDX-License-Identifier: Apache-2.0
"""The measuring side of bench_agent.sh, in one long-lived process.

Every interval the agents' and perf's CPU clocks are read and each agent's
/metrics is scraped from here, without starting a process: the shell's
python3, curl, awk and bc spawns were new processes on the host every
interval, which the agents being measured had to scan and symbolize (a
tenth of their steady state). A host that starts processes is measured
apart, by the churn interval: BENCH_AGENT_CHURN short CPU-bound processes
(half native, half python3) started during one more interval, and the
agent's CPU beyond the steady intervals' median divided among them.

Arguments (KEY=VALUE): iv, n, t0 (CLOCK_REALTIME of the first interval's
start), perf (perf record's pid), agents (NAME:PID:PORT,...), perf_file and
perf_hz (BENCH_AGENT_PERF), churn, workloads. Prints the per-interval rows
and the summary; asserts nothing.
"""
import statistics
import subprocess
import sys
import time
import urllib.request

args = dict(a.split("=", 1) for a in sys.argv[1:])
IV = float(args["iv"])
N = int(args["n"])
T0 = float(args["t0"])
PERF = int(args["perf"])
AGENTS = [(a.split(":")[0], int(a.split(":")[1]), a.split(":")[2])
          for a in args["agents"].split(",")]
PERF_FILE = args.get("perf_file", "")
PERF_HZ = args.get("perf_hz", "499")
CHURN = int(args.get("churn", "0"))
WORKLOADS = args.get("workloads", "")


def cpu_ns(pid):
    """The process CPU clock of pid (all its threads), 0 when gone."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)
    except OSError:
        return 0


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def metrics(port):
    out = {}
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.partition(" ")
                try:
                    out[k] = float(v.split()[0])
                except (ValueError, IndexError):
                    pass
    return out


def churn(deadline):
    """CHURN short processes spread over the time left until deadline."""
    procs = []
    gap = max(0.05, (deadline - time.time() - 2.0) / max(CHURN, 1))
    for i in range(CHURN):
        if i % 2 == 0:
            cmd = [WORKLOADS + "/spin", "40"]
        else:
            cmd = ["python3", "-c",
                   "x = 0\nfor i in range(1500000): x += i"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
        time.sleep(gap)
    for p in procs:
        p.wait()


print("%-10s %-6s %9s %9s %6s %8s %10s %9s %6s %6s %9s %8s %8s %7s %6s" % (
    "", "", "profd CPU", "unwinder", "scans", "RSS MiB", "cache MiB", "DWARF MiB",
    "files", "pids", "perf CPU", "scrape", "lookups", "misses", "DWARF opens"), flush=True)
prev = {name: dict(a=0, u=0.0, s=0, h=0, m=0, d=0) for name, _, _ in AGENTS}
acpu = {name: [] for name, _, _ in AGENTS}
ucpu = {name: [] for name, _, _ in AGENTS}
fcpu = []
f_prev = 0
recorder = None
total = N + (1 if CHURN else 0)
for k in range(1, total + 1):
    # At each interval's end plus 1.5 s: profiles written, midway between
    # two of the agent's 1 s ticks.
    target = T0 + k * IV + 1.5
    if k == N + 1:
        churn(target)
    time.sleep(max(0.0, target - time.time()))
    # Every agent's and perf's CPU at one instant, before any scrape: a
    # scrape's own cost is measured apart, and an interval's CPU runs
    # from the end of the last scrape.
    now = [cpu_ns(PERF)] + [cpu_ns(pid) for _, pid, _ in AGENTS]
    fcpu.append(now[0] - f_prev)
    f_prev = now[0]
    for i, (name, pid, port) in enumerate(AGENTS):
        p = prev[name]
        a = now[i + 1] - p["a"]
        acpu[name].append(a)
        m = metrics(port)
        p["a"] = cpu_ns(pid)
        scrape = p["a"] - now[i + 1]
        u = m.get("profd_unwind_cpu_seconds_total", 0.0)
        sc = int(m.get("profd_unwind_scans_total", 0))
        hm = int(m.get("profd_symbol_frame_cache_hits_total", 0) +
                 m.get("profd_symbol_frame_cache_misses_total", 0))
        mi = int(m.get("profd_symbol_frame_cache_misses_total", 0))
        dw = int(m.get("profd_symbol_dwarf_opens_total", 0))
        ucpu[name].append(u - p["u"])
        label = "churn" if k == N + 1 else "interval %d" % k
        print("%-10s %-6s %7.1fms %7.1fms %6d %8.1f %10.1f %9.1f %6d %6d %7.1fms %6.1fms %8d %7d %6d" % (
            label, name, a / 1e6, (u - p["u"]) * 1e3, sc - p["s"], rss_mib(pid),
            m.get("profd_symbol_cache_bytes", 0) / 1048576,
            m.get("profd_symbol_cache_dwarf_bytes", 0) / 1048576,
            m.get("profd_symbol_cache_files", 0), m.get("profd_symbol_cache_processes", 0),
            fcpu[-1] / 1e6, scrape / 1e6, hm - p["h"], mi - p["m"], dw - p["d"]), flush=True)
        p.update(u=u, s=sc, h=hm, m=mi, d=dw)
    # BENCH_AGENT_PERF: perf record (DWARF call graphs: profd has no frame
    # pointers) of the last agent over the steady intervals.
    if PERF_FILE and k == 2 and N > 2:
        recorder = subprocess.Popen(
            ["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", PERF_HZ,
             "-p", str(AGENTS[-1][1]), "-o", PERF_FILE], stderr=subprocess.DEVNULL)
    if recorder and k == N:
        recorder.send_signal(2)
        recorder.wait()
        recorder = None

# Steady: the intervals after the second (the first holds start-up, the
# second still fills the caches with processes first sampled late).
for name, _, _ in AGENTS:
    a, u = acpu[name], ucpu[name]
    if N < 3:
        print("steady state: needs BENCH_AGENT_INTERVALS >= 3")
        break
    st = a[2:N]
    secs = len(st) * IV
    print("%-6s first interval: profd %.3f s CPU (unwinder %.3f s), perf %.3f s" % (
        name, a[0] / 1e9, u[0], fcpu[0] / 1e9))
    print("%-6s steady state at 99 Hz (intervals 3-%d, %d s): profd %.3f%% of one core "
          "(unwinder %.3f%%; quietest interval %.1f ms, median %.1f ms), perf record -a -g %.3f%%" % (
              name, N, secs, 100 * sum(st) / 1e9 / secs, 100 * sum(u[2:N]) / secs,
              min(st) / 1e6, statistics.median(st) / 1e6, 100 * sum(fcpu[2:N]) / 1e9 / secs))
    if CHURN:
        extra = a[N] - statistics.median(st)
        print("%-6s churn: %d short processes (half %s/spin, half python3) in one interval: "
              "%.1f ms of CPU beyond the steady median, %.2f ms per process" % (
                  name, CHURN, "workloads", extra / 1e6, extra / 1e6 / CHURN))
