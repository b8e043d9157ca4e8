/**
 * Everything this instance shows on /metrics beyond RPCs and transport, wired in one
 * place for startApp: the task engine's share, the queue-wide gauges (only on the
 * reporter, reporter_lease.ts), the campaigns' mails, store latency and auth. See docs/ARCHITECTURE.md
 * ("Metrics") for the list and the rule.
 */
import type { CampaignsRuntime } from "../campaigns/mod.ts";
import type { Deps } from "../deps.ts";
import type { TasksRuntime } from "../tasks/runtime.ts";
import type { MetricsRegistry } from "./metrics.ts";
import { observeQueues } from "./queue_metrics.ts";
import { redisReporterLease, soleReporter } from "./reporter_lease.ts";
import { observePostgres, observeRedis } from "./storage_metrics.ts";
import { observeTasks } from "./task_metrics.ts";
import { observeCampaigns } from "./campaign_metrics.ts";

export function observeProcess(
  registry: MetricsRegistry,
  deps: Deps,
  tasks?: TasksRuntime,
  campaigns?: CampaignsRuntime,
): void {
  observePostgres(registry, deps.sql);
  if (deps.redis.kind === "redis") observeRedis(registry, deps.redis.client);
  if (campaigns) observeCampaigns(registry, campaigns);
  if (!tasks) return;
  observeTasks(registry, tasks, deps.clock);
  const lease = deps.redis.kind === "redis"
    ? redisReporterLease(deps.redis.client, tasks.serverId)
    : soleReporter;
  observeQueues(registry, () => tasks.queueStats(), lease);
}
