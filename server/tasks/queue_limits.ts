/**
 * Limits in a broker rebuild: every stored queue and group limit is set again before any
 * task or lease goes back, so a rebuilt broker enforces what Postgres says.
 */
import type { Broker } from "../broker/broker.ts";
import type { NamedLimits } from "./limit_queries.ts";

/**
 * How long a dispatcher whose claim found nothing waits before it claims again (a wake-up
 * comes sooner when work is enqueued): four promoter ticks, or, when a limit kept the
 * claim short, until the next rate token is due, or one tick for a concurrency limit (a
 * task ending on another instance does not wake it).
 */
export function idleWait(tickMs: number, limitedFor: number | undefined): number {
  if (limitedFor === undefined) return tickMs * 4;
  return limitedFor > 0 ? Math.min(limitedFor, tickMs * 4) : tickMs;
}

export async function restoreLimits(
  broker: Broker,
  limits: { queues: NamedLimits[]; groups: NamedLimits[] },
): Promise<void> {
  for (const q of limits.queues) await broker.setLimits({ queue: q.name }, q);
  for (const g of limits.groups) await broker.setLimits({ group: g.name }, g);
}
