/**
 * Where a phase's CPU went, per role, from Linux /proc: the system's own processes (its
 * server, when it has one, and its worker), every Postgres and every Redis process on the
 * machine (whoever they served: the bench's own polling, other databases, other Redis
 * servers), and the rest of the machine. Only a quiet machine gives the system's own figure.
 */

export const ROLES = ["server", "worker", "postgres", "redis", "other"] as const;
export type Role = (typeof ROLES)[number];

export interface CpuSnapshot {
  /** CPU time so far per process id, ms. */
  byPid: Map<number, { comm: string; ms: number }>;
  machineBusyMs: number;
  machineTotalMs: number;
}

/** USER_HZ is 100 on Linux: /proc counts CPU time in hundredths of a second. */
const MS_PER_TICK = 10;

export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const byPid = new Map<number, { comm: string; ms: number }>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
    } catch {
      continue; // it exited meanwhile
    }
    // The command name is in parentheses and may hold spaces; the fields after it are plain.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    byPid.set(Number(entry.name), {
      comm: stat.slice(open + 1, close),
      ms: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK, // utime, stime
    });
  }
  const line = (await Deno.readTextFile("/proc/stat")).split("\n", 1)[0];
  // cpu user nice system idle iowait irq softirq steal (guest time is already in user)
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return {
    byPid,
    machineBusyMs: (total - ticks[3] - ticks[4]) * MS_PER_TICK,
    machineTotalMs: total * MS_PER_TICK,
  };
}

export interface CpuSpent {
  /** CPU ms per role between the two snapshots. */
  ms: Record<Role, number>;
  machineBusyMs: number;
  /** Share of the machine's CPU time that was busy. */
  machineBusy: number;
}

/** CPU spent between two snapshots; `own` names the system's processes by role. */
export function cpuSpent(
  before: CpuSnapshot,
  after: CpuSnapshot,
  own: { server?: number; worker: number },
): CpuSpent {
  const ms: Record<Role, number> = { server: 0, worker: 0, postgres: 0, redis: 0, other: 0 };
  const spent = (pid: number) => {
    const a = after.byPid.get(pid);
    // A process that ended before the second snapshot is only in the machine's total ("other").
    return a ? a.ms - (before.byPid.get(pid)?.ms ?? 0) : 0;
  };
  if (own.server !== undefined) ms.server = spent(own.server);
  ms.worker = spent(own.worker);
  for (const [pid, { comm }] of after.byPid) {
    if (pid === own.server || pid === own.worker) continue;
    if (comm === "postgres") ms.postgres += spent(pid);
    else if (comm === "redis-server") ms.redis += spent(pid);
  }
  const machineBusyMs = after.machineBusyMs - before.machineBusyMs;
  const counted = ms.server + ms.worker + ms.postgres + ms.redis;
  ms.other = Math.max(0, machineBusyMs - counted);
  const totalMs = after.machineTotalMs - before.machineTotalMs;
  return { ms, machineBusyMs, machineBusy: totalMs > 0 ? machineBusyMs / totalMs : 0 };
}
