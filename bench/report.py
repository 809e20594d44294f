#!/usr/bin/env python3
"""Turns the results of bench/run.sh into the table (stdout) and docs/BENCHMARKS.md.

    report.py RESULTS_DIR [--write docs/BENCHMARKS.md]

RESULTS_DIR holds hyperfine exports (<row>.r<round>.json), values.tsv (single values:
peak RSS, sizes, the machine), micro.json (Google Benchmark) and the profiles.
Every ratio is computed from medians measured in the same run.
"""
import glob
import json
import os
import re
import statistics
import sys

res = sys.argv[1]
write_to = sys.argv[sys.argv.index("--write") + 1] if "--write" in sys.argv else None

values = {}
with open(os.path.join(res, "values.tsv")) as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition("\t")
        values[key] = value


def hyperfine(name):
    """Per command index: every run time (s) from every round, and the command."""
    merged = {}
    for path in sorted(glob.glob(os.path.join(res, f"{name}.r*.json"))):
        with open(path) as f:
            for i, r in enumerate(json.load(f)["results"]):
                entry = merged.setdefault(i, {"command": r["command"], "times": []})
                entry["times"] += r["times"]
    return merged


def median(name, index):
    data = hyperfine(name)
    if index not in data or not data[index]["times"]:
        return None
    return statistics.median(data[index]["times"])


def samples(name, index):
    data = hyperfine(name)
    return len(data[index]["times"]) if index in data else 0


micro = {}
micro_path = os.path.join(res, "micro.json")
if os.path.exists(micro_path):
    with open(micro_path) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("aggregate_name") == "median":
                micro[b["run_name"]] = b


def micro_us(run_name, field="real_time"):
    b = micro.get(run_name)
    if not b:
        return None
    if field not in ("real_time", "cpu_time"):
        return b.get(field)
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
    return b[field] * scale


def fmt_s(seconds):
    if seconds is None:
        return "–"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def mib(kib):
    return None if kib is None else kib / 1024.0


rows = []  # (id, what, baseline, kiln, ratio, target, met)


def judge(value, test):
    """None (no verdict) when the value is missing."""
    return None if value is None else bool(test(value))


def row(rid, what, baseline, kiln, r, target, met):
    verdict = "–" if met is None else ("met" if met else "**missed**")
    rows.append((rid, what, baseline, kiln, r, target, verdict))


def ival(key):
    v = values.get(key)
    return int(v) if v not in (None, "") else None


# 1. Per-step overhead
base, fast, disk = median("steps", 0), median("steps", 1), median("steps", 2)
r1 = ratio(fast, base)
row("1", "500 × ExecuteBash `true` (state + logs on tmpfs)",
    f"{fmt_s(base)} (500 × `bash -c true` in a bash loop)", fmt_s(fast), fmt_ratio(r1), "≤ 1.3×",
    judge(r1, lambda x: x <= 1.3))
ans, k50 = median("ansible", 0), median("ansible", 1)
row("1b", "50 shell steps: Ansible `shell` module (local) vs kiln, for context",
    f"{fmt_s(ans)} (ansible-playbook)", fmt_s(k50),
    f"{fmt_ratio(ratio(k50, ans))} (kiln/Ansible)" if ans else "–", "context", None)

# 2. ExecuteBinary
sb, bfast, bdisk = median("steps", 3), median("steps", 4), median("steps", 5)
flush500 = median("steps", 6)
r2 = ratio(bfast, sb)
row("2", "500 × ExecuteBinary `/bin/true` (state + logs on tmpfs)",
    f"{fmt_s(sb)} (500 posix_spawn+wait from C)", fmt_s(bfast), fmt_ratio(r2), "≤ 1.3×",
    judge(r2, lambda x: x <= 1.3))
RP, FE = "BM_RunProcessTrue/agent_MiB:{}/iterations:300", "BM_ForkExecTrue/agent_MiB:{}/iterations:300"
p0, p1g = micro_us(RP.format(0), "cpu_time"), micro_us(RP.format(1024), "cpu_time")
w0, w1g = micro_us(RP.format(0)), micro_us(RP.format(1024))
f0, f1g = micro_us(FE.format(0), "cpu_time"), micro_us(FE.format(1024), "cpu_time")
r2b = ratio(p1g, p0)
row("2b", "agent CPU per spawn+wait (`run_process` of /bin/true) with 1 GiB touched in the agent vs 0",
    f"{p0:.0f} µs CPU, {w0:.0f} µs wall (0 MiB)" if p0 else "–",
    f"{p1g:.0f} µs CPU, {w1g:.0f} µs wall (1024 MiB)" if p1g else "–",
    fmt_ratio(r2b) + (f" (fork()+exec: {f0:.0f} → {f1g:.0f} µs CPU, {fmt_ratio(ratio(f1g, f0))})" if f0 else ""),
    "≤ 1.2× (flat)", judge(r2b, lambda x: x <= 1.2))

# 3. Validation
ncorpus = ival("corpus.count") or 124
vc, vb = median("validate", 0), median("validate", 1)
row("3a", f"`kiln validate` of all {ncorpus} corpus documents, one call", "–",
    f"{fmt_s(vc)} ({vc / ncorpus * 1000:.2f} ms/document)" if vc else "–", "–", "< 1 s",
    judge(vc, lambda x: x < 1))
row("3b", "`kiln validate` of a generated 10,000-step document", "–",
    f"{fmt_s(vb)} ({vb / 10000 * 1e6:.0f} µs/step)" if vb else "–", "–", "< 1 s", judge(vb, lambda x: x < 1))

# 4. Output
oc, ok_, op = median("output", 0), median("output", 1), median("output", 2)
tput = ratio(oc, ok_)
gib = 1.0
row("4a", "one step printing 1 GiB (100-byte lines): throughput vs `cat` into a file",
    f"{fmt_s(oc)} ({gib / oc:.2f} GiB/s)" if oc else "–",
    f"{fmt_s(ok_)} ({gib / ok_:.2f} GiB/s)" if ok_ else "–",
    f"{tput * 100:.0f}% of cat" + (f" (`cat | cat`: {ratio(oc, op) * 100:.0f}%)" if op else "") if tput else "–",
    "≥ 50%", judge(tput, lambda x: x >= 0.5))
orss = mib(ival("output.rss"))
row("4b", "the same step: kiln's peak RSS", "–", f"{orss:.1f} MiB" if orss else "–",
    "–", "≤ 50 MB", judge(orss, lambda x: x * 1.048576 <= 50))

# 5. Files
def folder_row(number, name, label, label_if_missing):
    """A file-tree action against its coreutils baseline (command 0 baseline, 1 kiln)."""
    if f"{name}.missing" in values:
        row(number, label_if_missing, "–", "not implemented yet", "–", "≤ 1.2×", None)
        return
    base, kiln = median(name, 0), median(name, 1)
    r = ratio(kiln, base)
    row(number, label, fmt_s(base), fmt_s(kiln), fmt_ratio(r), "≤ 1.2×", judge(r, lambda x: x <= 1.2))


folder_row("5a", "copy", "CopyFolder of 20,000 small files (100 folders, tmpfs) vs `cp -a`",
           "CopyFolder of 20,000 small files vs `cp -a`")
folder_row("5b", "delete", "DeleteFolder (force) of the same tree (tmpfs) vs `rm -rf`",
           "DeleteFolder of the same tree vs `rm -rf`")

# 6. Network
for action in ("S3Download", "WebDownload"):
    state = values.get(f"net.{action}", "missing")
    if action == "WebDownload" and state == "registered" and hyperfine("web"):
        wc, wk = median("web", 0), median("web", 1)
        row("6", "WebDownload of 256 MiB from a local HTTP server vs `curl -o`", fmt_s(wc), fmt_s(wk),
            fmt_ratio(ratio(wk, wc)), "(network issue)", None)
    elif state == "registered":
        row("6", f"{action}", "–", "registered; needs the S3-compatible server of the network issue", "–",
            "(network issue)", None)
    else:
        row("6", f"{action}", "–", "not implemented yet", "–", "(network issue)", None)

# 7. Footprint
srss = mib(ival("small.rss"))
row("7a", "peak RSS running a small document (examples/hello-world.yml, fresh state directory)", "–",
    f"{srss:.1f} MiB" if srss else "–", "–", "≤ 15 MB", judge(srss, lambda x: x * 1.048576 <= 15))
size, stripped, libs = ival("binary.bytes"), ival("binary.stripped"), ival("binary.libs")
row("7b", "binary size (Release, -O2)", "–",
    f"{size / 1048576:.2f} MiB ({stripped / 1048576:.2f} MiB stripped; {libs} shared libraries)" if size else "–",
    "–", "report", None)
st_true, st_kiln = median("startup", 0), median("startup", 1)
row("7c", "startup: `kiln --version` vs `/bin/true`", fmt_s(st_true), fmt_s(st_kiln),
    fmt_ratio(ratio(st_kiln, st_true)), "report", None)
hrss, hbytes = mib(ival("history.rss")), ival("history.bytes")
h_fresh, h_full = median("history", 0), median("history", 1)
row("7d", f"the small document with 10 finished 500-step executions ({(hbytes or 0) / 1048576:.1f} MiB of journals) "
    "in the state directory", f"{fmt_s(h_fresh)} (fresh state directory)",
    f"{fmt_s(h_full)}, {hrss:.1f} MiB peak RSS" if hrss else fmt_s(h_full), fmt_ratio(ratio(h_full, h_fresh)),
    "≤ 15 MB (as 7a)", judge(hrss, lambda x: x * 1.048576 <= 15))

# Journal
jd = micro_us("BM_JournalAppend/durable:1")
jb = micro_us("BM_JournalAppend/durable:0")
raw = micro_us("BM_RawAppendFdatasync")
jsync = micro_us("BM_JournalAppend/durable:1", "journal_us_per_append")
row("J1", "µs per durable journal append (`RunJournal::append` micro-benchmark, real disk) vs a bare "
    "write+fdatasync of the same line", f"{raw:.0f} µs" if raw else "–",
    f"{jd:.0f} µs (sync_time {jsync:.0f} µs; {jb:.1f} µs without fdatasync)" if jd else "–",
    fmt_ratio(ratio(jd, raw)), "report (the disk's flush is the floor)", None)
row("J1b", "the disk's flush latency while rows 1, 2, J2, J3 ran: 500 × 512-byte O_DSYNC appends (dd)", "–",
    f"{flush500 / 500 * 1e6:.0f} µs per flush" if flush500 else "–", "–", "report", None)
rj = ratio(disk, fast)
row("J2", "500 × ExecuteBash, state directory on the real disk vs on tmpfs (logs on tmpfs)",
    f"{fmt_s(fast)} (tmpfs)", f"{fmt_s(disk)} ({(disk - fast) / 500 * 1000:.2f} ms/step more)" if disk else "–",
    fmt_ratio(rj), "< 2× (durability must not double a step)", judge(rj, lambda x: x < 2))
rjb = ratio(bdisk, bfast)
row("J3", "500 × ExecuteBinary, state directory on the real disk vs on tmpfs (logs on tmpfs)",
    f"{fmt_s(bfast)} (tmpfs)", f"{fmt_s(bdisk)} ({(bdisk - bfast) / 500 * 1000:.2f} ms/step more)" if bdisk else "–",
    fmt_ratio(rjb), "< 2×", judge(rjb, lambda x: x < 2))


# --- profiles ---------------------------------------------------------------------------
def shorten(symbol):
    """kiln::ns::Class::fn(args) [/path] -> kiln::Class::fn"""
    symbol = re.sub(r"\s*\[[^\]]*\]\s*$", "", symbol)
    symbol = symbol.split("'")[0].replace("(anonymous namespace)::", "")
    symbol = re.sub(r"\(\d+x\)", "", symbol)
    out, depth = [], 0
    for ch in symbol:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    s = "".join(out)
    if "(" in s:
        s = s[: s.index("(")]
    s = s.replace("(anonymous namespace)::", "")
    return s.replace("???:", "").strip()


def callgrind_top(path, pattern, limit):
    if not os.path.exists(path):
        return None, []
    total, rows_ = None, []
    seen = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
            if not m:
                continue
            ir = int(m.group(1).replace(",", ""))
            what = m.group(3)
            if "PROGRAM TOTALS" in what:
                total = ir
                continue
            if not re.search(pattern, what):
                continue
            name = shorten(what.split(":", 1)[1] if what.startswith("???:") or what.startswith("./") else what)
            if name in seen or name.startswith("0x") or name in ("main", "kiln::main_impl", "kiln::command_run"):
                continue
            seen.add(name)
            rows_.append((ir, float(m.group(2)), name))
            if len(rows_) >= limit:
                break
    return total, rows_


def massif_peak(path):
    """Peak heap and the bytes owned by the first kiln function up the stack of each allocation."""
    if not os.path.exists(path):
        return None, []
    with open(path) as f:
        text = f.read()
    snaps = text.split("snapshot=")[1:]
    best = None
    for s in snaps:
        heap = int(re.search(r"mem_heap_B=(\d+)", s).group(1))
        extra = int(re.search(r"mem_heap_extra_B=(\d+)", s).group(1))
        if "heap_tree=peak" in s or (best is None or heap + extra > best[0]) and "heap_tree=detailed" in s:
            if "heap_tree=peak" in s:
                best = (heap + extra, s, True)
                break
            best = (heap + extra, s, False)
    if not best:
        return None, []
    lines = [l for l in best[1].splitlines() if re.match(r"\s*n\d+: ", l)]
    nodes = []
    for l in lines:
        m = re.match(r"(\s*)n(\d+): (\d+) (.*)$", l)
        nodes.append((len(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)))
    owners = {}
    pos = 0

    def walk(i, owner_chain):
        depth, nchild, size, desc = nodes[i]
        chain = owner_chain
        if "kiln::" in desc and len(chain) < 3:
            chain = chain + [shorten(desc.split(": ", 1)[1] if ": " in desc else desc)]
        j = i + 1
        if nchild == 0 or len(chain) == 3:
            key = " ← ".join(chain) if chain else "(outside kiln's code)"
            owners[key] = owners.get(key, 0) + size
            # skip the subtree
            while j < len(nodes) and nodes[j][0] > depth:
                j += 1
            return j
        child_total = 0
        for _ in range(nchild):
            child_total += nodes[j][2]
            j = walk(j, chain)
        if size - child_total > 0:
            key = " ← ".join(chain) if chain else "(outside kiln's code)"
            owners[key] = owners.get(key, 0) + size - child_total
        return j

    if nodes:
        depth, nchild, size, desc = nodes[0]
        j = 1
        for _ in range(nchild):
            j = walk(j, [])
    top = sorted(owners.items(), key=lambda kv: -kv[1])[:8]
    return best[0], top


cg_total, cg_rows = callgrind_top(os.path.join(res, "cg.bin500.txt"), r"kiln::|yaml|YAML::|EVP_|sha256", 40)
cv_total, cv_rows = callgrind_top(os.path.join(res, "cg.validate.txt"), r"kiln::|YAML::|valijson", 16)
mp_total, mp_rows = massif_peak(os.path.join(res, "massif.out4m"))

# --- output -----------------------------------------------------------------------------
headers = ("#", "Row", "Baseline", "kiln", "Ratio", "Target", "Met")


def print_table():
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    widths = [min(w, 70) for w in widths]

    def line(cells):
        return "  ".join(str(c)[:widths[i]].ljust(widths[i]) for i, c in enumerate(cells))

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


print()
print_table()
print()
missed = [r for r in rows if r[6] == "**missed**"]
print(f"{len(missed)} target(s) missed: " + ", ".join(r[0] for r in missed) if missed else "every target met")

if not write_to:
    sys.exit(0)

v = values
md = []
md.append("# Benchmarks\n")
md.append("Measured by `bench/run.sh` (one command; not part of the default test run). Every ratio below is of "
          "medians measured in the same run, with baseline and kiln interleaved in rounds so that load from "
          "other processes slows both alike. This file is written by the script; the analysis at the end is kept "
          "in `bench/analysis.md`.\n")
md.append("## Machine\n")
md.append(f"- CPU: {v.get('machine.cpu')}, {v.get('machine.cores')} cores; memory {v.get('machine.memory')}")
md.append(f"- {v.get('machine.os')}, {v.get('machine.kernel')}")
md.append(f"- real disk: {v.get('machine.disk')}; tmpfs: {v.get('machine.fast')}")
md.append(f"- load average {v.get('machine.load')} when the measurements started, {v.get('machine.load_end')} when they "
          f"ended; all CPUs together were {v.get('machine.busy')}% busy meanwhile (the benchmarks themselves use about "
          "one core: the rest was other jobs on this shared machine)")
md.append(f"- measured {v.get('machine.date')}; {v.get('tool.kiln')}; {v.get('tool.compiler')}; "
          f"{v.get('tool.hyperfine')}; {v.get('tool.bash')}; {v.get('tool.ansible')}; {v.get('settings')}\n")
md.append("## How to reproduce\n")
md.append("```sh\nbench/run.sh                 # everything (about 17 minutes on 2 cores); writes this file\n"
          "bench/run.sh --quick         # 2 runs, 1 round: a smoke test of the suite\n"
          "bench/run.sh --runs 10 --rounds 3 --no-profile --no-write\n"
          "build-bench/kiln_micro --benchmark_filter=Journal   # one micro-benchmark\n```\n")
md.append("It installs what it needs from Debian (hyperfine, time, libbenchmark-dev, valgrind, ansible-core), builds "
          "kiln in Release (`-O2`; GCC 12 at `-O3` reports a false `-Wrestrict` in `std::string`, GCC PR 105329, "
          "and the build uses `-Werror`) into `build-bench/` with `-DKILN_BENCH=ON -DBUILD_TESTING=OFF`, and "
          "generates every document and file tree into a temporary folder on the real disk.\n")
md.append("## Method\n")
md.append("- Whole-process timings: `hyperfine -N` (no shell), one warm-up run, `runs` runs per command and round; "
          "the state directory and log folder are removed before every run (`--prepare`, not timed).")
md.append("- Rows about the agent's own overhead keep `--state-directory` and `--log-directory` on tmpfs, so "
          "they measure kiln rather than the disk; rows J2/J3 repeat them with the state directory on the real "
          "disk, where every step finishes with a durable journal record (write + fdatasync). Row 4 writes "
          "console.log to the real disk, as its baseline writes its file there.")
md.append("- Folders on the real disk are moved aside between runs, not deleted: on ext4, creating files right "
          "after thousands were deleted makes the inode allocator scan recently deleted inodes (perf: "
          "`recently_deleted`, `find_get_block_common`), and the same `cp -a` of 20,000 files took from 1.3 s to "
          "33 s here depending on what was deleted before it. For the same reason rows 5a/5b run on tmpfs.")
md.append("- Peak RSS: the largest `%M` of GNU `/usr/bin/time` over 3 runs (the kernel's `ru_maxrss` from wait4). "
          "The micro-benchmarks (`bench/micro.cpp`, Google Benchmark) report medians of 5 repetitions, "
          "interleaved at random.")
md.append("- Profiles: callgrind instruction counts (repeatable, unlike timings here) and massif heap snapshots, "
          "taken by the same script.\n")
md.append("## Results\n")
md.append("| " + " | ".join(headers) + " |")
md.append("|" + "|".join("---" for _ in headers) + "|")
for r in rows:
    md.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
md.append("")
md.append(f"Samples per median: {samples('steps', 0)} for rows 1, 2, J1b, J2 and J3; "
          f"{samples('output', 0)} for row 4a; {samples('ansible', 0)} for row 1b. "
          + (f"**{len(missed)} target(s) missed: {', '.join(r[0] for r in missed)}** (see below)." if missed
             else "Every target is met."))
md.append("")

md.append("## Profiles\n")
if cg_total:
    md.append(f"### 500 × ExecuteBinary (row 2), callgrind\n")
    md.append(f"{cg_total:,} instructions in kiln's own process for 500 steps: **{cg_total / 500:,.0f} per step** "
              "(the children are not counted). Inclusive counts of the largest kiln functions:\n")
    md.append("| Ir (inclusive) | % | function |\n|---:|---:|---|")
    for ir, pct, name in cg_rows[:28]:
        md.append(f"| {ir:,} | {pct:.1f} | `{name}` |")
    md.append("")
if cv_total:
    md.append(f"### Validating the 10,000-step document (row 3b), callgrind\n")
    md.append(f"{cv_total:,} instructions ({cv_total / 10000:,.0f} per step).\n")
    md.append("| Ir (inclusive) | % | function |\n|---:|---:|---|")
    for ir, pct, name in cv_rows:
        md.append(f"| {ir:,} | {pct:.1f} | `{name}` |")
    md.append("")
if mp_total:
    md.append(f"### Heap of a step printing 4 MiB (row 4b), massif\n")
    md.append(f"Peak heap {mp_total / 1048576:.1f} MiB (the 1 GiB step keeps the same 4 MiB for chaining, so "
              "its peak is the same). Bytes at the peak by the first three kiln functions up the stack:\n")
    md.append("| MiB | owner (allocating kiln function ← its kiln callers) |\n|---:|---|")
    for owner, size in mp_rows:
        md.append(f"| {size / 1048576:.1f} | `{owner}` |")
    md.append("")

analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
if os.path.exists(analysis):
    with open(analysis) as f:
        md.append(f.read().rstrip() + "\n")

with open(write_to, "w") as f:
    f.write("\n".join(md))
print(f"wrote {write_to}")
