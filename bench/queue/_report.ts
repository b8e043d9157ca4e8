/**
 * The side-by-side table: every system's figure, the ratio taskmesh / each peer, the
 * issue's targets as met or missed by how much, and the JSON and Markdown files in
 * bench/results/.
 */
import type { EnqueueResult, LatencyResult, ProcessResult, RequeueResult } from "./_phases.ts";
import { LABELS, round, type SystemName } from "./_system.ts";

export interface SideResults {
  enqueueSingle?: EnqueueResult;
  /** One per batched run; the table shows the median rate. */
  enqueueBatched: EnqueueResult[];
  /** By worker concurrency. */
  processed: Record<string, ProcessResult>;
  latency?: LatencyResult;
  requeueKill?: RequeueResult;
  requeueStop?: RequeueResult;
}

/** The systems in the run, taskmesh first, and why a system has no figure for a measure. */
export interface Run {
  systems: SystemName[];
  results: Partial<Record<SystemName, SideResults>>;
  /** measure kind → system → reason, shown as "n/a" with the reason under the table. */
  notApplicable: Partial<Record<Kind, Partial<Record<SystemName, string>>>>;
}

type Kind = "recorded" | "requeue" | "stop";

export interface Row {
  measure: string;
  unit: string;
  /** Each system's figure; null where it was not measured. */
  values: Partial<Record<SystemName, number | null>>;
  /** taskmesh / each peer. */
  ratios: Partial<Record<SystemName, number | null>>;
  /** Tasks each figure is over, where a time limit may have cut a run short (in `systems` order). */
  tasks?: string;
  kind?: Kind;
  target?: string;
  status?: string;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

type Spread = { p50: number; p99: number; max: number } | null | undefined;
const ms = (d: Spread, k: "p50" | "p99" | "max") => d ? d[k] : null;
const seconds = (value: number | null) => value === null ? null : round(value / 1000, 2);

/** taskmesh at least `factor` × each named peer's figure. */
function atLeast(row: Row, goals: Array<[SystemName, number]>): Row {
  const target = goals.map(([peer, f]) => `≥ ${f === 1 ? "" : `${f}× `}${LABELS[peer]}`).join(", ");
  const t = row.values.taskmesh ?? null;
  const parts: string[] = [];
  for (const [peer, factor] of goals) {
    const p = row.values[peer] ?? null;
    if (t === null || p === null) {
      parts.push(`${LABELS[peer]}: not measured`);
      continue;
    }
    const need = p * factor;
    if (t < need) {
      parts.push(
        `${LABELS[peer]}: missed by ${round(need - t, 0)} ${row.unit} (${
          round((1 - t / need) * 100, 1)
        }% short)`,
      );
    }
  }
  return { ...row, target, status: parts.length === 0 ? "met" : parts.join("; ") };
}

/** taskmesh's figure at most `limit`; `stranded` when a requeue run ended with tasks not running again. */
function atMost(row: Row, limit: number, stranded = false): Row {
  const target = `≤ ${limit} ${row.unit}`;
  const t = row.values.taskmesh ?? null;
  if (stranded) return { ...row, target, status: "missed: tasks did not run again within the limit" };
  if (t === null) return { ...row, target, status: "not measured" };
  return { ...row, target, status: t <= limit ? "met" : `missed by ${round(t - limit, 2)} ${row.unit}` };
}

export function buildRows(
  run: Run,
  p: { enqueueConcurrency: number; batch: number; concurrencies: number[] },
): Row[] {
  const { systems, results } = run;
  const side = (s: SystemName): SideResults => results[s] ?? { enqueueBatched: [], processed: {} };
  const row = (
    measure: string,
    unit: string,
    pick: (s: SideResults) => number | null | undefined,
    kind?: Kind,
  ): Row => {
    const values: Row["values"] = {};
    for (const s of systems) values[s] = pick(side(s)) ?? null;
    const ratios: Row["ratios"] = {};
    const t = values.taskmesh ?? null;
    for (const s of systems) {
      if (s === "taskmesh") continue;
      const v = values[s] ?? null;
      ratios[s] = t !== null && v !== null && v !== 0 ? round(t / v, 2) : null;
    }
    return { measure, unit, values, ratios, ...(kind ? { kind } : {}) };
  };
  const counted = (pick: (s: SideResults) => { tasks: number }[]) =>
    systems.map((s) => {
      const list = pick(side(s));
      return list.length ? list.map((r) => r.tasks).join("+") : "—";
    }).join(" / ");
  const rate = (list: { tasksPerSecond: number }[]) => {
    const m = median(list.map((r) => r.tasksPerSecond));
    return m === null ? null : round(m, 1);
  };
  const single = (s: SideResults) => s.enqueueSingle ? [s.enqueueSingle] : [];
  const rows: Row[] = [
    {
      ...atLeast(
        row(`enqueue, single calls (${p.enqueueConcurrency} in flight)`, "tasks/s", (s) => rate(single(s))),
        [["bullmq", 0.5]],
      ),
      tasks: counted(single),
    },
    {
      ...atLeast(row(`enqueue, batches of ${p.batch}`, "tasks/s", (s) => rate(s.enqueueBatched)), [[
        "bullmq",
        1.5,
      ]]),
      tasks: counted((s) => s.enqueueBatched),
    },
  ];
  const processedGoals: Record<number, Array<[SystemName, number]>> = {
    100: [["bullmq", 1], ["graphile-worker", 1]],
    10: [["bullmq", 0.5]],
    1: [["bullmq", 0.25]],
  };
  for (const c of p.concurrencies) {
    const r = row(
      `processed, 1 worker process, concurrency ${c}`,
      "tasks/s",
      (s) => s.processed[c]?.tasksPerSecond,
    );
    const goals = processedGoals[c];
    rows.push({
      ...(goals ? atLeast(r, goals) : r),
      tasks: counted((s) => s.processed[c] ? [s.processed[c]] : []),
    });
  }
  // What bounds a processed rate on this machine: its cores over the CPU each task costs everywhere.
  for (const c of p.concurrencies) {
    rows.push(row(
      `machine CPU per processed task, concurrency ${c}`,
      "µs",
      (s) => s.processed[c]?.cpuUsPerTask.machine,
    ));
  }
  rows.push(
    atMost(row("enqueue → handler start, p50", "ms", (s) => ms(s.latency?.handlerStart, "p50")), 3),
    atMost(row("enqueue → handler start, p99", "ms", (s) => ms(s.latency?.handlerStart, "p99")), 10),
    row("enqueue → recorded start, p50", "ms", (s) => ms(s.latency?.recordedStart, "p50"), "recorded"),
    row("enqueue → recorded start, p99", "ms", (s) => ms(s.latency?.recordedStart, "p99"), "recorded"),
    row("enqueue call alone (idle), p50", "ms", (s) => ms(s.latency?.enqueueCall, "p50")),
  );
  const tk = side("taskmesh").requeueKill;
  rows.push(
    atMost(
      row(
        "SIGKILL → all its tasks running on the 2nd worker",
        "s",
        (s) => seconds(ms(s.requeueKill?.handlerStart, "max")),
        "requeue",
      ),
      3,
      (tk?.stranded ?? 0) > 0,
    ),
    row(
      "SIGKILL → a task running again, p50",
      "s",
      (s) => seconds(ms(s.requeueKill?.handlerStart, "p50")),
      "requeue",
    ),
  );
  if (side("taskmesh").requeueStop) {
    rows.push(
      row(
        "SIGSTOP (frozen worker) → all running again",
        "s",
        (s) => seconds(ms(s.requeueStop?.handlerStart, "max")),
        "stop",
      ),
    );
  }
  return rows;
}

function cell(run: Run, row: Row, s: SystemName): string {
  const r = run.results[s];
  const requeue = row.kind === "requeue" ? r?.requeueKill : row.kind === "stop" ? r?.requeueStop : undefined;
  if (requeue && requeue.stranded > 0) {
    return `> ${requeue.limitMs / 1000} (${requeue.stranded}/${requeue.tasks} stranded)`;
  }
  const value = row.values[s] ?? null;
  if (value !== null) return String(value);
  return row.kind && run.notApplicable[row.kind]?.[s] ? "n/a" : "—";
}

const ratioCell = (value: number | null | undefined) =>
  value === null || value === undefined ? "—" : value.toFixed(2);

/** "targets: 1 of 8 met; missed: …" */
export function targetsLine(rows: Row[]): string {
  const targets = rows.filter((r) => r.target);
  const met = targets.filter((r) => r.status === "met");
  const missed = targets.filter((r) => r.status !== "met").map((r) => `${r.measure} (${r.status})`);
  return `targets: ${met.length} of ${targets.length} met${
    missed.length ? `; missed: ${missed.join("; ")}` : ""
  }`;
}

/** Why some cells say n/a: one line per measure kind and reason, naming the systems it applies to. */
export function notApplicableLines(run: Run): string[] {
  const what: Record<Kind, string> = {
    recorded: "recorded start",
    requeue: "SIGKILL → running again",
    stop: "SIGSTOP → running again",
  };
  const lines: string[] = [];
  for (
    const [kind, bySystem] of Object.entries(run.notApplicable) as Array<
      [Kind, Partial<Record<SystemName, string>>]
    >
  ) {
    const byReason = new Map<string, string[]>();
    for (const s of run.systems) {
      const reason = bySystem[s];
      if (reason) byReason.set(reason, [...(byReason.get(reason) ?? []), LABELS[s]]);
    }
    for (const [reason, names] of byReason) lines.push(`n/a, ${what[kind]}, ${names.join(", ")}: ${reason}`);
  }
  return lines;
}

/** The peers a ratio column is shown for: none when taskmesh was not in the run. */
function ratioPeers(run: Run): SystemName[] {
  return run.systems.includes("taskmesh") ? run.systems.filter((s) => s !== "taskmesh") : [];
}

function header(run: Run): string[] {
  const peers = ratioPeers(run);
  return [
    "measure",
    "unit",
    ...run.systems.map((s) => LABELS[s]),
    ...peers.map((s) => `taskmesh / ${LABELS[s]}`),
    `tasks (${run.systems.map((s) => LABELS[s]).join(" / ")})`,
    "target",
    "status",
  ];
}

function cells(run: Run, r: Row): string[] {
  const peers = ratioPeers(run);
  return [
    r.measure,
    r.unit,
    ...run.systems.map((s) => cell(run, r, s)),
    ...peers.map((s) => ratioCell(r.ratios[s])),
    r.tasks ?? "",
    r.target ?? "",
    r.status ?? "",
  ];
}

export function textTable(rows: Row[], run: Run): string {
  const lines = [header(run), ...rows.map((r) => cells(run, r))];
  const numeric = (i: number) => i >= 2 && i < 2 + run.systems.length + ratioPeers(run).length;
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) =>
    l.map((c, i) => numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
  )
    .join("\n");
}

export function markdown(
  rows: Row[],
  run: Run,
  head: { date: string; machine: Record<string, unknown>; notes: string[] },
): string {
  const h = header(run);
  const numeric = (i: number) => i >= 2 && i < 2 + run.systems.length + ratioPeers(run).length;
  const out = [
    `# Queue benchmark: taskmesh vs ${
      run.systems.filter((s) => s !== "taskmesh").map((s) => LABELS[s]).join(", ")
    }`,
    "",
    `Written by \`deno task bench:queue\` on ${head.date}. Machine: ${
      Object.entries(head.machine).map(([k, v]) => `${k} ${v}`).join(", ")
    }.`,
    "",
    `| ${h.join(" | ")} |`,
    `| ${h.map((_, i) => numeric(i) ? "---:" : "---").join(" | ")} |`,
    ...rows.map((r) => `| ${cells(run, r).join(" | ")} |`),
    "",
    targetsLine(rows),
    "",
    ...notApplicableLines(run).map((l) => `- ${l}`),
    "",
    "## How it was measured",
    "",
    ...head.notes.map((n) => `- ${n}`),
    "",
  ];
  return out.join("\n");
}
