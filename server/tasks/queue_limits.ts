/**
 * Limits in a broker rebuild: every stored queue and group limit is set again before any
 * task or lease goes back, so a rebuilt broker enforces what Postgres says.
 */
import type { Broker } from "../broker/broker.ts";
import type { NamedLimits } from "./limit_queries.ts";

export async function restoreLimits(
  broker: Broker,
  limits: { queues: NamedLimits[]; groups: NamedLimits[] },
): Promise<void> {
  for (const q of limits.queues) await broker.setLimits({ queue: q.name }, q);
  for (const g of limits.groups) await broker.setLimits({ group: g.name }, g);
}
