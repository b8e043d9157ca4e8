/**
 * CPU and memory of a process from /proc (Linux): CPU seconds used (user + system), the
 * resident set now, and its peak (VmHWM). Sampled by the bench while a campaign sends.
 */

const CLOCK_TICKS = 100;

export interface ProcSample {
  /** performance.now() ms. */
  at: number;
  /** CPU seconds used so far, user + system. */
  cpuSeconds: number;
  rssMb: number;
  peakRssMb: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
    return {
      at: performance.now(),
      cpuSeconds: ticks / CLOCK_TICKS,
      rssMb: kb("VmRSS") / 1024,
      peakRssMb: kb("VmHWM") / 1024,
    };
  } catch {
    return undefined;
  }
}

/** What a process did between two samples: CPU cores used on average, RSS growth and peak. */
export interface ProcFigures {
  cpuSeconds: number;
  /** CPU seconds over wall seconds: 1 is one core busy all the time. */
  cores: number;
  rssStartMb: number;
  rssPeakMb: number;
  rssGrowthMb: number;
}

/** Samples `pid` every `everyMs` until `stop()`; the figures cover that span. */
export function watchProc(pid: number, everyMs = 250): { stop(): ProcFigures } {
  const first = sampleProc(pid);
  if (!first) throw new Error(`no process ${pid} to sample`);
  let peak = first.rssMb;
  let latest = first;
  const timer = setInterval(() => {
    const s = sampleProc(pid);
    if (!s) return;
    latest = s;
    peak = Math.max(peak, s.rssMb);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const end = sampleProc(pid) ?? latest;
      peak = Math.max(peak, end.rssMb);
      const cpuSeconds = end.cpuSeconds - first.cpuSeconds;
      return {
        cpuSeconds,
        cores: cpuSeconds / Math.max(0.001, (end.at - first.at) / 1000),
        rssStartMb: first.rssMb,
        rssPeakMb: peak,
        rssGrowthMb: peak - first.rssMb,
      };
    },
  };
}
