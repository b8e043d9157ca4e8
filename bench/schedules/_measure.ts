/** Figures of one bench round: lateness percentiles, ticks missed or doubled, CPU of processes. */

export interface Fired {
  schedule: string;
  /** The tick (intended time), epoch ms. */
  tick: number;
  /** When it happened (taskmesh: the task was committed; BullMQ: a worker took the job), epoch ms. */
  at: number;
}

export interface RoundFigures {
  system: string;
  instances: number;
  schedules: number;
  seconds: number;
  fires: number;
  expected: number;
  missed: number;
  doubled: number;
  firesPerSecond: number;
  latenessP50Ms: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  /** CPU seconds per wall second of the instance processes, summed (1.0 = one core). */
  cpuCores: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Fires within [from, to) against `ticksEach` expected ticks of every schedule. */
export function summarise(
  fired: readonly Fired[],
  window: { from: number; to: number },
  schedules: number,
  ticksEach: number,
): Pick<
  RoundFigures,
  "fires" | "expected" | "missed" | "doubled" | "latenessP50Ms" | "latenessP99Ms" | "latenessMaxMs"
> {
  const inWindow = fired.filter((f) => f.tick >= window.from && f.tick < window.to);
  const keys = new Set(inWindow.map((f) => `${f.schedule}@${f.tick}`));
  const lateness = inWindow.map((f) => Math.max(0, f.at - f.tick)).sort((a, b) => a - b);
  const expected = schedules * ticksEach;
  return {
    fires: inWindow.length,
    expected,
    missed: Math.max(0, expected - keys.size),
    doubled: inWindow.length - keys.size,
    latenessP50Ms: percentile(lateness, 0.5),
    latenessP99Ms: percentile(lateness, 0.99),
    latenessMaxMs: lateness.at(-1) ?? NaN,
  };
}

/** CPU seconds a process has used (user + system), from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
