/**
 * What the engine counts on its hot path that no task event shows: plain numbers in
 * memory, one addition each, read by /metrics at scrape time
 * (server/observability/task_metrics.ts). Each is this process's own share.
 */
export class EngineCounters {
  /** Heartbeats received from the workers whose stream is here. */
  heartbeats = 0;
  /** Times the broker was rebuilt from Postgres by this process. */
  brokerRebuilds = 0;
  /** Claims a limit kept short: a rate limit (a token is due later) or a concurrency limit. */
  readonly throttled = { rate: 0, concurrency: 0 };
  /** Failed iterations of the engine's loops, by loop name (a fixed, small set). */
  readonly loopFailures = new Map<string, number>();

  /** A claim came back short because of a limit; `retryInMs` 0 means a concurrency limit. */
  claimLimited(retryInMs: number): void {
    if (retryInMs > 0) this.throttled.rate++;
    else this.throttled.concurrency++;
  }

  loopFailed(loop: string): void {
    this.loopFailures.set(loop, (this.loopFailures.get(loop) ?? 0) + 1);
  }
}
