/**
 * The lease reaper owns expiry: leases whose worker went silent or away end, and their
 * tasks go back to their queue with the attempt counted (through the engine's expire).
 */
import type { Lease } from "../broker/broker.ts";
import { type EngineLoop, type EngineParts, IntervalLoop } from "./_engine_parts.ts";

export class LeaseReaper implements EngineLoop {
  readonly name = "lease-reaper";
  readonly #loop: IntervalLoop;

  constructor(
    readonly parts: EngineParts,
    readonly expire: (lease: Lease, outcome: "lease_expired") => Promise<void>,
  ) {
    const intervalMs = Math.max(50, parts.config.heartbeatMs / 2);
    this.#loop = new IntervalLoop(this.name, parts, intervalMs, () => this.reap());
  }

  start(signal: AbortSignal): void {
    this.#loop.start(signal);
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Expires leases nobody extended in time; their tasks go back to the queue. */
  async reap(): Promise<number> {
    const expired = await this.parts.broker.takeExpired(this.parts.clock.now(), 500);
    for (const lease of expired) await this.expire(lease, "lease_expired");
    return expired.length;
  }
}
