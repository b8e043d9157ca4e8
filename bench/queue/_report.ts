/**
 * The side-by-side table, the issue's targets as met or missed by how much, and the
 * JSON and Markdown files in bench/results/.
 */
import type { EnqueueResult, LatencyResult, ProcessResult, RequeueResult } from "./_phases.ts";
import { round } from "./_system.ts";

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

export interface Row {
  measure: string;
  unit: string;
  taskmesh: number | null;
  bullmq: number | null;
  /** taskmesh / BullMQ. */
  ratio: number | null;
  /** Tasks the figures are over, taskmesh/BullMQ, where a time limit may have cut a run short. */
  tasks?: string;
  target?: string;
  status?: string;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const ms = (d: { p50: number; p99: number; max: number } | null | undefined, k: "p50" | "p99" | "max") =>
  d ? d[k] : null;
const seconds = (value: number | null) => value === null ? null : round(value / 1000, 2);

/** At least `factor` × BullMQ's figure. */
function atLeast(row: Row, factor: number): Row {
  const target = factor === 1 ? "≥ BullMQ" : `≥ ${factor}× BullMQ`;
  if (row.taskmesh === null || row.bullmq === null) return { ...row, target, status: "not measured" };
  const need = row.bullmq * factor;
  const status = row.taskmesh >= need
    ? "met"
    : `missed by ${round(need - row.taskmesh, 0)} ${row.unit} (${
      round((1 - row.taskmesh / need) * 100, 1)
    }% short)`;
  return { ...row, target, status };
}

/** taskmesh's figure at most `limit`; `stranded` when a requeue run ended with tasks not running again. */
function atMost(row: Row, limit: number, stranded = false): Row {
  const target = `≤ ${limit} ${row.unit}`;
  if (stranded) return { ...row, target, status: "missed: tasks did not run again within the limit" };
  if (row.taskmesh === null) return { ...row, target, status: "not measured" };
  const status = row.taskmesh <= limit ? "met" : `missed by ${round(row.taskmesh - limit, 2)} ${row.unit}`;
  return { ...row, target, status };
}

export function buildRows(
  t: SideResults,
  b: SideResults,
  p: { enqueueConcurrency: number; batch: number; concurrencies: number[] },
): Row[] {
  const row = (
    measure: string,
    unit: string,
    tv: number | null | undefined,
    bv: number | null | undefined,
  ) => {
    const taskmesh = tv ?? null;
    const bullmq = bv ?? null;
    const ratio = taskmesh !== null && bullmq !== null && bullmq !== 0 ? round(taskmesh / bullmq, 2) : null;
    return { measure, unit, taskmesh, bullmq, ratio } satisfies Row;
  };
  const counted = (...runs: Array<{ tasks: number }[]>) =>
    runs.map((list) => list.length ? list.map((r) => r.tasks).join("+") : "—").join(" / ");
  const rate = (list: { tasksPerSecond: number }[]) => {
    const m = median(list.map((r) => r.tasksPerSecond));
    return m === null ? null : round(m, 1);
  };
  const single = (s: SideResults) => s.enqueueSingle ? [s.enqueueSingle] : [];
  const rows: Row[] = [
    {
      ...row(
        `enqueue, single calls (${p.enqueueConcurrency} in flight)`,
        "tasks/s",
        rate(single(t)),
        rate(single(b)),
      ),
      tasks: counted(single(t), single(b)),
    },
    {
      ...atLeast(
        row(`enqueue, batches of ${p.batch}`, "tasks/s", rate(t.enqueueBatched), rate(b.enqueueBatched)),
        1.5,
      ),
      tasks: counted(t.enqueueBatched, b.enqueueBatched),
    },
  ];
  for (const c of p.concurrencies) {
    const [tp, bp] = [t.processed[c], b.processed[c]];
    const r = row(
      `processed, 1 worker process, concurrency ${c}`,
      "tasks/s",
      tp?.tasksPerSecond,
      bp?.tasksPerSecond,
    );
    rows.push({ ...(c === 100 ? atLeast(r, 1) : r), tasks: counted(tp ? [tp] : [], bp ? [bp] : []) });
  }
  const tl = t.latency, bl = b.latency;
  rows.push(
    atMost(
      row("enqueue → handler start, p50", "ms", ms(tl?.handlerStart, "p50"), ms(bl?.handlerStart, "p50")),
      3,
    ),
    atMost(
      row("enqueue → handler start, p99", "ms", ms(tl?.handlerStart, "p99"), ms(bl?.handlerStart, "p99")),
      10,
    ),
    row("enqueue → recorded start, p50", "ms", ms(tl?.recordedStart, "p50"), ms(bl?.recordedStart, "p50")),
    row("enqueue → recorded start, p99", "ms", ms(tl?.recordedStart, "p99"), ms(bl?.recordedStart, "p99")),
    row("enqueue call alone (idle), p50", "ms", ms(tl?.enqueueCall, "p50"), ms(bl?.enqueueCall, "p50")),
  );
  const tk = t.requeueKill, bk = b.requeueKill;
  rows.push(
    atMost(
      row(
        "SIGKILL → all its tasks running on the 2nd worker",
        "s",
        seconds(ms(tk?.handlerStart, "max")),
        seconds(ms(bk?.handlerStart, "max")),
      ),
      3,
      (tk?.stranded ?? 0) > 0,
    ),
    row(
      "SIGKILL → a task running again, p50",
      "s",
      seconds(ms(tk?.handlerStart, "p50")),
      seconds(ms(bk?.handlerStart, "p50")),
    ),
  );
  if (t.requeueStop) {
    rows.push(
      row(
        "SIGSTOP (frozen worker) → all running again",
        "s",
        seconds(ms(t.requeueStop.handlerStart, "max")),
        null,
      ),
    );
  }
  return rows;
}

const cell = (value: number | null, stranded?: RequeueResult) =>
  stranded && stranded.stranded > 0
    ? `> ${stranded.limitMs / 1000} (${stranded.stranded}/${stranded.tasks} stranded)`
    : value === null
    ? "—"
    : String(value);

function strandedFor(row: Row, side: SideResults): RequeueResult | undefined {
  if (row.measure.startsWith("SIGKILL")) return side.requeueKill;
  if (row.measure.startsWith("SIGSTOP")) return side.requeueStop;
  return undefined;
}

/** "targets: 1 of 5 met; missed: …" */
export function targetsLine(rows: Row[]): string {
  const targets = rows.filter((r) => r.target);
  const met = targets.filter((r) => r.status === "met");
  const missed = targets.filter((r) => r.status !== "met").map((r) => `${r.measure} (${r.status})`);
  return `targets: ${met.length} of ${targets.length} met${
    missed.length ? `; missed: ${missed.join("; ")}` : ""
  }`;
}

export function textTable(rows: Row[], t: SideResults, b: SideResults): string {
  const lines = [["measure", "unit", "taskmesh", "BullMQ", "ratio", "tasks", "target", "status"]];
  for (const r of rows) {
    lines.push([
      r.measure,
      r.unit,
      cell(r.taskmesh, strandedFor(r, t)),
      cell(r.bullmq, strandedFor(r, b)),
      r.ratio === null ? "—" : r.ratio.toFixed(2),
      r.tasks ?? "",
      r.target ?? "",
      r.status ?? "",
    ]);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) =>
    l.map((c, i) => i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
  )
    .join("\n");
}

export function markdown(
  rows: Row[],
  t: SideResults,
  b: SideResults,
  header: { date: string; machine: Record<string, unknown>; notes: string[] },
): string {
  const out = [
    "# Queue benchmark: taskmesh vs BullMQ",
    "",
    `Written by \`deno task bench:queue\` on ${header.date}. Machine: ${
      Object.entries(header.machine).map(([k, v]) => `${k} ${v}`).join(", ")
    }.`,
    "",
    "| measure | unit | taskmesh | BullMQ | taskmesh / BullMQ | tasks (taskmesh / BullMQ) | target | status |",
    "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.measure} | ${r.unit} | ${cell(r.taskmesh, strandedFor(r, t))} | ${
        cell(r.bullmq, strandedFor(r, b))
      } | ${r.ratio === null ? "—" : r.ratio.toFixed(2)} | ${r.tasks ?? ""} | ${r.target ?? ""} | ${
        r.status ?? ""
      } |`
    ),
    "",
    targetsLine(rows),
    "",
    "## How it was measured",
    "",
    ...header.notes.map((n) => `- ${n}`),
    "",
  ];
  return out.join("\n");
}
