#!/usr/bin/env python3
"""The report of a benchmark run (scripts/bench-suite.sh): one JSON line per scenario in,
a Markdown section and a chart out.

    bench_report.py machine PROFILE         the machine and the commit, as a JSON line
    bench_report.py saturation RUN.jsonl    the sweep's highest finalized tx/s
    bench_report.py markdown RUN.jsonl [--chart PATH] [--command TEXT]
                                            the section for BENCHMARKS.md
    bench_report.py plot RUN.jsonl OUT.png  latency percentiles and finalized tx/s against
                                            offered load (and a soak over time); needs
                                            matplotlib (scripts/install-deps.sh bench)

Every figure comes from the run's file; the targets are those of the performance issue,
each shown met or not met with the value measured.
"""

import datetime
import json
import os
import platform
import subprocess
import sys

# The targets. Growth tolerances of the soak: what "no growth" allows for noise.
IDLE_HEIGHTS_PER_S = 50.0
AT_1000_P50_MS = 10.0
AT_1000_P99_MS = 50.0
SHARE_OF_LIMIT = 0.5
KILLED_SHARE = 0.5
KILLED_P99_MS = 1000.0
BACK_AT_HEAD_S = 1.0
SOAK_PEAK_RSS_MIB = 256.0
SOAK_RSS_GROWTH = 0.10
SOAK_LATENCY_GROWTH = 0.25
SOAK_DISK_PER_VOTE = 300.0


def read_run(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    rows.append({"scenario": "unreadable", "error": f"{error}: {line[:80]}"})
    return rows


def of(rows, scenario):
    return [r for r in rows if r.get("scenario") == scenario]


def first_line(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def command(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine(profile):
    mem_kib = first_line("/proc/meminfo", "MemTotal")
    os_name = None
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    status = command("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "scenario": "machine",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": first_line("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kib.split()[0]) / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "os": os_name,
        "rustc": command("rustc", "--version"),
        "commit": command("git", "rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(status),
        "profile": profile,
    }


def saturation(rows):
    sweep = [r for r in of(rows, "sweep") if "finalized_tps" in r]
    return max(sweep, key=lambda r: r["finalized_tps"]) if sweep else None


def n(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def ms(summary, key):
    return "–" if not summary else f'{summary[key]:,.0f} ms'


def verdict(ok):
    return "–" if ok is None else ("**met**" if ok else "not met")


def sweep_section(rows, out):
    sweep = [r for r in of(rows, "sweep") if "finalized_tps" in r]
    if not sweep:
        return
    out.append("### Sweep: offered load against a fresh network per rate")
    out.append("")
    out.append("| offered tx/s | finalized tx/s | of the signature limit | latency p50 | p90 | p99 | max "
               "| lost | refused | heights/s (load / idle) | txs per block | node CPU (cores, sum) "
               "| peak RSS (max) | disk B/tx (mean) |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sweep:
        lat = r.get("latency")
        costs = r.get("node_costs") or []
        cpu = sum(c["cores"] for c in costs)
        rss = max((c["peak_rss_mib"] for c in costs), default=0)
        disk = sum(c["disk_bytes_per_tx"] for c in costs) / len(costs) if costs else 0
        limit = r["signature_limit"]["limit_tps"]
        out.append(
            f'| {n(r["offered_tps"])} | {n(r["finalized_tps"])} | {100 * r["fraction_of_limit"]:.1f} % of {n(limit)} '
            f'| {ms(lat, "p50_ms")} | {ms(lat, "p90_ms")} | {ms(lat, "p99_ms")} | {ms(lat, "max_ms")} '
            f'| {r["lost"]} | {sum(r["refused"].values())} '
            f'| {r["heights"] / r["window_s"]:.1f} / {r.get("idle_heights_per_s", 0):.1f} '
            f'| {r["txs_per_block_mean"]:.0f} | {cpu:.2f} | {rss:.0f} MiB | {disk:,.0f} |')
    out.append("")
    top = saturation(rows)
    last = sweep[-1]
    if last["finalized_tps"] >= 0.9 * last["offered_tps"]:
        out.append(f'Saturation not reached: the highest rate, {n(last["offered_tps"])} tx/s, was '
                   f'finalized in full ({n(last["finalized_tps"])} tx/s); add higher RATES.')
    else:
        out.append(f'Saturation: {n(top["finalized_tps"])} tx/s finalized (at {n(top["offered_tps"])} offered).')
    out.append("")
    phased = [r for r in sweep if r.get("height_phases")]
    if phased:
        out.append("Where a height's time went under load, on the first node (`accord_consensus_height_phase_seconds`, "
                   "warm-up included): the mean of each phase. A height is decide + pause + commit; "
                   "build and check are parts of decide, on the heights this node proposed and on the others.")
        out.append("")
        out.append("| offered tx/s | heights | decide | pause | commit | height | build (heights) | check (heights) |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in phased:
            p = r["height_phases"]

            def mean(phase):
                return p[phase]["mean_ms"] if phase in p else 0.0

            def counted(phase):
                return f'{p[phase]["mean_ms"]:.1f} ms ({p[phase]["count"]:,})' if phase in p else "–"
            heights = p.get("decide", {}).get("count", 0)
            total = mean("decide") + mean("pause") + mean("commit")
            out.append(f'| {n(r["offered_tps"])} | {heights:,} | {mean("decide"):.1f} ms | {mean("pause"):.1f} ms '
                       f'| {mean("commit"):.1f} ms | {total:.1f} ms | {counted("build")} | {counted("check")} |')
        out.append("")


def part_row(label, part):
    lat = part.get("latency")
    length = max(part["to_s"] - part["from_s"], 1e-9)
    return (f'| {label} | {n(part["finalized_tps"])} | {ms(lat, "p50_ms")} | {ms(lat, "p90_ms")} '
            f'| {ms(lat, "p99_ms")} | {ms(lat, "max_ms")} | {part["heights"] / length:.1f} '
            f'| {part.get("heights_past_round_0", "–")} | {part["lost"]} |')


def kill_figures(row):
    parts = (row.get("report") or {}).get("parts") or []
    if len(parts) != 2:
        return None
    before, after = parts
    share = after["finalized_tps"] / before["finalized_tps"] if before["finalized_tps"] > 0 else None
    return before, after, share


def kill_section(rows, out):
    for row in of(rows, "kill"):
        title = {"latency": " (with headroom: latency)",
                 "capacity": " (over saturation: throughput kept)"}.get(row.get("purpose"), "")
        out.append(f"### One validator of four killed{title}")
        out.append("")
        if "error" in row:
            out.append(f'Failed at {n(row.get("rate"))} tx/s: {row["error"]}')
            out.append("")
            continue
        report = row["report"]
        figures = kill_figures(row)
        out.append(f'{row["node"]} got SIGKILL {row["killed_at_s"]:.1f} s into a {report["window_s"]:.0f} s window '
                   f'at {n(row["rate"])} tx/s offered; every account sent to the three other nodes from the start. '
                   f'Latency of the transactions due in each part, from their scheduled time.')
        out.append("")
        out.append("| part | finalized tx/s | latency p50 | p90 | p99 | max | heights/s | heights past round 0 | lost |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        if figures:
            before, after, share = figures
            out.append(part_row(f'before: four up (0–{before["to_s"]:.0f} s)', before))
            out.append(part_row(f'after: three up ({after["from_s"]:.0f}–{after["to_s"]:.0f} s)', after))
            out.append("")
            seen = [l for l in report.get("nodes_lost", []) if l["node"] == row["node"]]
            out.append(f'Throughput after the kill: {100 * share:.0f} % of before. ' if share is not None else "")
            out[-1] += (f'loadgen saw {row["node"]}\'s finality subscription end {seen[0]["at_s"]:.1f} s into the window; '
                        if seen else "")
            out[-1] += f'localnet reported the exit: {"yes" if row.get("localnet_reported_exit") else "no"}.'
        out.append("")


def catchup_section(rows, out):
    catchups = of(rows, "catchup")
    if not catchups:
        return
    paused = {r.get("paused_s") for r in catchups if "paused_s" in r}
    out.append(f'### A validator out for {", ".join(str(p) for p in sorted(paused))} s')
    out.append("")
    out.append("| how | load | heights behind when back | RPC answers after | back at the head after |")
    out.append("|---|---|---:|---:|---:|")
    for r in catchups:
        if "error" in r:
            load = "none" if not r.get("rate") else f'{n(r["rate"])} tx/s'
            out.append(f'| {r.get("mode", "?")} | {load} | failed: {r["error"]} | | |')
            continue
        how = ("frozen (SIGSTOP, then SIGCONT)" if r["mode"] == "freeze"
               else f'stopped (SIG{r["signal"]}), then started again')
        load = "none" if not r["rate"] else f'{n(r["rate"])} tx/s'
        out.append(f'| {r["node"]} {how} | {load} | {r["heights_behind_at_resume"]} '
                   f'| {r["rpc_answers_after_s"]:.2f} s | {r["back_at_head_s"]:.2f} s |')
    out.append("")


def soak_figures(row):
    report = row["report"]
    parts = report.get("parts") or []
    peak = max((c["peak_rss_mib"] for c in report.get("node_costs", [])), default=None)
    disk = max((c["disk_bytes_per_tx"] for c in report.get("node_costs", [])), default=None)
    growth = None
    if len(parts) >= 3:
        # The second half of the run: RocksDB's memtables and block cache (64 MiB each,
        # bounded) fill during the first minutes, and that is not growth.
        second, last = parts[len(parts) // 2], parts[-1]
        rss = []
        for a, b in zip(second["nodes"], last["nodes"]):
            if a["rss_mean_mib"] > 0:
                rss.append((b["rss_mean_mib"] - a["rss_mean_mib"]) / a["rss_mean_mib"])
        lat = {}
        for key in ("p50_ms", "p99_ms"):
            if second.get("latency") and last.get("latency") and second["latency"][key] > 0:
                lat[key] = (last["latency"][key] - second["latency"][key]) / second["latency"][key]
        growth = {"rss": max(rss) if rss else None, "latency": lat}
    return peak, disk, growth


def soak_section(rows, out):
    for row in of(rows, "soak"):
        out.append("### Soak")
        out.append("")
        if "error" in row:
            out.append(f'Failed: {row["error"]}')
            out.append("")
            continue
        report = row["report"]
        parts = report.get("parts") or []
        names = [c["name"] for c in report.get("node_costs", [])]
        out.append(f'{n(row["rate"])} tx/s offered for {report["window_s"]:.0f} s, reported every '
                   f'{row["interval_s"]} s: {n(report["finalized_tps"])} tx/s finalized over the whole, '
                   f'{report["lost"]} lost, {sum(report["refused"].values())} refused.')
        out.append("")
        out.append("| from | finalized tx/s | latency p50 | p99 | heights/s | "
                   + " | ".join(f"RSS {x} (mean)" for x in names) + " |")
        out.append("|---:|---:|---:|---:|---:|" + "---:|" * len(names))
        for p in parts:
            lat = p.get("latency")
            length = max(p["to_s"] - p["from_s"], 1e-9)
            out.append(f'| {p["from_s"]:.0f} s | {n(p["finalized_tps"])} | {ms(lat, "p50_ms")} | {ms(lat, "p99_ms")} '
                       f'| {p["heights"] / length:.1f} | '
                       + " | ".join(f'{x["rss_mean_mib"]:.0f} MiB' for x in p["nodes"]) + " |")
        out.append("")
        peak, disk, growth = soak_figures(row)
        costs = report.get("node_costs", [])
        out.append("Peak RSS: " + ", ".join(f'{c["name"]} {c["peak_rss_mib"]:.0f} MiB' for c in costs)
                   + "; data directory growth per finalized vote: "
                   + ", ".join(f'{c["name"]} {c["disk_bytes_per_tx"]:,.0f} B' for c in costs) + ".")
        if growth:
            lat = growth["latency"]
            out[-1] += (f' Last interval against the one at half-time: RSS {100 * growth["rss"]:+.1f} % (the node that grew most), '
                        + ", ".join(f'{k[:3]} {100 * v:+.0f} %' for k, v in lat.items()) + ".")
        out.append("")


def targets(rows):
    """(target, measured, met) rows; met is None when the scenario did not run."""
    out = []
    sweep = [r for r in of(rows, "sweep") if "finalized_tps" in r]
    idle = [r["idle_heights_per_s"] for r in sweep if "idle_heights_per_s" in r]
    # The presets pause 200 ms after an empty block (an idle chain keeps a steady pace);
    # the pace scenario runs without the pause and shows what consensus itself does.
    pace = [r for r in of(rows, "pace") if "heights_per_s" in r]
    name = f"no load: at least {IDLE_HEIGHTS_PER_S:.0f} heights/s"
    measured, met = [], None
    if idle:
        mean = sum(idle) / len(idle)
        measured.append(f"{mean:.1f} heights/s with the presets' 200 ms pause after an empty block "
                        f"(mean of {len(idle)} fresh networks)")
        met = mean >= IDLE_HEIGHTS_PER_S
    if pace:
        rate = pace[0]["heights_per_s"]
        measured.append(f"{rate:.1f} heights/s with no pause (`--commit-ms 0`, the slowest node)")
        met = rate >= IDLE_HEIGHTS_PER_S
    out.append((name, "; ".join(measured) or "not run (sweep, pace)", met))
    at_1000 = [r for r in sweep if abs(r["offered_tps"] - 1000) < 1]
    name = f"1,000 tx/s offered: p50 ≤ {AT_1000_P50_MS:.0f} ms and p99 ≤ {AT_1000_P99_MS:.0f} ms"
    if at_1000 and at_1000[0].get("latency"):
        lat = at_1000[0]["latency"]
        out.append((name, f'p50 {lat["p50_ms"]:,.0f} ms, p99 {lat["p99_ms"]:,.0f} ms',
                    lat["p50_ms"] <= AT_1000_P50_MS and lat["p99_ms"] <= AT_1000_P99_MS))
    else:
        out.append((name, "not run (1000 not in RATES)" if sweep else "not run (sweep)", None))
    top = saturation(rows)
    name = f"sustained finalized throughput ≥ {100 * SHARE_OF_LIMIT:.0f} % of the signature limit (same run)"
    if top:
        out.append((name, f'{n(top["finalized_tps"])} tx/s = {100 * top["fraction_of_limit"]:.1f} % of '
                          f'{n(top["signature_limit"]["limit_tps"])} tx/s', top["fraction_of_limit"] >= SHARE_OF_LIMIT))
    else:
        out.append((name, "not run (sweep)", None))
    name = (f"one of four validators killed: ≥ {100 * KILLED_SHARE:.0f} % of all-up throughput, "
            f"p99 < {KILLED_P99_MS / 1000:.0f} s")
    kills = [k for k in of(rows, "kill") if "error" not in k and kill_figures(k)]
    if kills:
        # The throughput kept from the run over saturation, the p99 from the run with
        # headroom; a run for both (KILL_RATE, older runs) stands for either.
        def pick(purpose):
            return next((k for k in kills if k.get("purpose", "both") in (purpose, "both")), None)
        capacity, latency = pick("capacity"), pick("latency")
        measured, met = [], True
        if capacity:
            before, after, share = kill_figures(capacity)
            if share is None:
                measured.append("nothing finalized before the kill")
                met = False
            else:
                measured.append(f'{100 * share:.0f} % ({n(after["finalized_tps"])} of '
                                f'{n(before["finalized_tps"])} tx/s at {n(capacity["rate"])} offered)')
                met = met and share >= KILLED_SHARE
        else:
            measured.append("throughput kept: not run")
            met = False
        if latency:
            lat = kill_figures(latency)[1].get("latency")
            measured.append(f'p99 after the kill {ms(lat, "p99_ms")} at {n(latency["rate"])} tx/s')
            met = met and lat is not None and lat["p99_ms"] < KILLED_P99_MS
        else:
            measured.append("p99: not run")
            met = False
        out.append((name, "; ".join(measured), met))
    else:
        out.append((name, "not run" if not of(rows, "kill") else "failed", None if not of(rows, "kill") else False))
    restarts = [r for r in of(rows, "catchup") if r.get("mode") == "restart"]
    for r in restarts:
        load = "no load" if not r.get("rate") else f'{n(r["rate"])} tx/s'
        name = f'stopped {r.get("paused_s", "?")} s and restarted ({load}): back at the head within {BACK_AT_HEAD_S:.0f} s'
        if "error" in r:
            out.append((name, r["error"], False))
        else:
            out.append((name, f'{r["back_at_head_s"]:.2f} s', r["back_at_head_s"] <= BACK_AT_HEAD_S))
    if not restarts:
        out.append((f"stopped 30 s and restarted: back at the head within {BACK_AT_HEAD_S:.0f} s", "not run (catchup)", None))
    soaks = [s for s in of(rows, "soak") if "error" not in s]
    names = (f"soak: peak RSS per node ≤ {SOAK_PEAK_RSS_MIB:.0f} MiB",
             f"soak: no growth in RSS (≤ {100 * SOAK_RSS_GROWTH:.0f} %) or latency (p50, p99 ≤ {100 * SOAK_LATENCY_GROWTH:.0f} %), "
             "last interval against the one at half-time",
             f"soak: disk ≤ {SOAK_DISK_PER_VOTE:.0f} bytes per vote")
    if soaks:
        s = soaks[0]
        peak, disk, growth = soak_figures(s)
        out.append((names[0], f"{peak:.0f} MiB (the largest node)", peak <= SOAK_PEAK_RSS_MIB))
        if growth and growth["rss"] is not None:
            lat = growth["latency"]
            measured = (f'RSS {100 * growth["rss"]:+.1f} %, '
                        + ", ".join(f'{k[:3]} {100 * v:+.0f} %' for k, v in lat.items()))
            ok = growth["rss"] <= SOAK_RSS_GROWTH and all(v <= SOAK_LATENCY_GROWTH for v in lat.values())
            out.append((names[1], measured, ok))
        else:
            out.append((names[1], "fewer than three intervals", None))
        out.append((names[2], f"{disk:,.0f} bytes (the largest node)", disk <= SOAK_DISK_PER_VOTE))
    else:
        ran = bool(of(rows, "soak"))
        for name in names:
            out.append((name, "failed" if ran else "not run (`make soak`)", False if ran else None))
    return out


def markdown(rows, chart=None, how=None):
    m = (of(rows, "machine") or [{}])[0]
    out = [f'## Benchmark run of {m.get("date_utc", "?")}', ""]
    commit = m.get("commit") or "?"
    if m.get("uncommitted_changes"):
        commit += " with uncommitted changes"
    out.append(f'Machine: {m.get("cpu") or "?"}, {m.get("cores") or "?"} cores, {m.get("memory_gib") or "?"} GiB, '
               f'Linux {m.get("kernel") or "?"} ({m.get("os") or "?"}), {m.get("rustc") or "rustc ?"}. '
               f'accord at commit `{commit}`, {m.get("profile", "?")} build. Every scenario on a fresh '
               f'`accord localnet --preset bench` (four validators in two regions on loopback, 1,000 voters).')
    if how:
        out.append("")
        out.append(f"Command: `{how}`.")
    out.append("")
    sweep_section(rows, out)
    if chart:
        out.append(f"![latency percentiles and finalized tx/s against offered load]({chart})")
        out.append("")
    kill_section(rows, out)
    catchup_section(rows, out)
    soak_section(rows, out)
    out.append("### Targets")
    out.append("")
    out.append("| target | measured | met? |")
    out.append("|---|---|---|")
    for name, measured, ok in targets(rows):
        out.append(f"| {name} | {measured} | {verdict(ok)} |")
    return "\n".join(out) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = sorted((r for r in of(rows, "sweep") if r.get("latency")), key=lambda r: r["offered_tps"])
    soaks = [s for s in of(rows, "soak") if "error" not in s and (s["report"].get("parts") or [])]
    panels = (2 if sweep else 0) + (2 if soaks else 0)
    if panels == 0:
        raise SystemExit("plot: nothing to draw (no sweep or soak with figures in the run)")
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3.2 * panels), squeeze=False)
    axes = [a[0] for a in axes]
    m = (of(rows, "machine") or [{}])[0]
    fig.suptitle(f'accord {m.get("commit", "?")}, {m.get("profile", "?")} build, '
                 f'{m.get("cores", "?")} cores, {m.get("date_utc", "")}', fontsize=10)
    if sweep:
        offered = [r["offered_tps"] for r in sweep]
        ax = axes.pop(0)
        for key, label in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99")):
            ax.plot(offered, [r["latency"][key] for r in sweep], marker="o", label=label)
        ax.set_yscale("log")
        ax.set_ylabel("submit-to-finality (ms)")
        ax.set_xlabel("offered tx/s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        ax = axes.pop(0)
        ax.plot(offered, [r["finalized_tps"] for r in sweep], marker="o", label="finalized")
        ax.plot(offered, offered, linestyle="--", color="grey", label="offered")
        ax.set_ylabel("finalized tx/s")
        ax.set_xlabel("offered tx/s")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if soaks:
        report = soaks[0]["report"]
        parts = report["parts"]
        minutes = [p["to_s"] / 60 for p in parts]
        ax = axes.pop(0)
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            ax.plot(minutes, [(p.get("latency") or {}).get(key) for p in parts], marker="o", label=label)
        ax.set_ylabel("latency (ms)")
        ax.set_xlabel(f'soak at {soaks[0]["rate"]:,.0f} tx/s: minutes (end of each interval)')
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax = axes.pop(0)
        for i, cost in enumerate(report["node_costs"]):
            ax.plot(minutes, [p["nodes"][i]["rss_mean_mib"] for p in parts], marker="o", label=cost["name"])
        ax.set_ylabel("RSS (MiB, mean)")
        ax.set_xlabel("minutes")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv):
    usage = __doc__.split("\n\n")[1]
    if len(argv) < 2:
        raise SystemExit(usage)
    what, args = argv[1], argv[2:]
    if what == "machine" and len(args) == 1:
        print(json.dumps(machine(args[0])))
    elif what == "saturation" and len(args) == 1:
        top = saturation(read_run(args[0]))
        if top is None:
            raise SystemExit("saturation: the run has no sweep")
        print(round(top["finalized_tps"]))
    elif what == "markdown" and args:
        chart = how = None
        rest = args[1:]
        while rest:
            if rest[0] == "--chart" and len(rest) > 1:
                chart, rest = rest[1], rest[2:]
            elif rest[0] == "--command" and len(rest) > 1:
                how, rest = rest[1], rest[2:]
            else:
                raise SystemExit(usage)
        sys.stdout.write(markdown(read_run(args[0]), chart, how))
    elif what == "plot" and len(args) == 2:
        plot(read_run(args[0]), args[1])
    else:
        raise SystemExit(usage)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except OSError as error:
        raise SystemExit(f"bench_report: {error}")
