/**
 * The conformance suite every Broker passes: the same steps, the same expected
 * answers, for the Redis and the in-memory broker. Time is passed in explicitly (the
 * broker takes `now`), so nothing here sleeps; each step gets a fresh fixture and
 * disposes of it, so steps share no state.
 *
 * The lease rule the suite pins down: a lease is current until it is released,
 * replaced, removed or taken by takeExpired — a lease past its time that the reaper
 * has not taken yet may still be extended, which is safe because taking and extending
 * are atomic against each other and the task was never given to anyone else.
 */
import type { Broker } from "./broker.ts";
import { leaseSteps } from "./_conformance_leases.ts";
import { queueSteps } from "./_conformance_queues.ts";
import { limitSteps } from "./_conformance_limits.ts";

export interface BrokerFixture {
  /** The broker under test (after loseState, the one that replaced it). */
  readonly broker: Broker;
  /** Another broker over the same state, as another server instance would hold it. */
  peer(): Promise<Broker>;
  /** Loses every bit of state as FLUSHALL or a restart would; returns the broker to use afterwards. */
  loseState(): Promise<Broker>;
  /** Closes every broker and connection the fixture opened and deletes what it stored. */
  dispose(): Promise<void>;
}

export type BrokerFactory = () => Promise<BrokerFixture>;

/** One named check of the suite, run against a fresh fixture. */
export interface ConformanceStep {
  name: string;
  run(fixture: BrokerFixture): Promise<void>;
}

/** Registers the whole suite as one Deno test named `name`, one step per rule. */
export function registerBrokerConformance(
  name: string,
  factory: BrokerFactory,
  options: Pick<Deno.TestDefinition, "sanitizeOps" | "sanitizeResources" | "ignore"> = {},
): void {
  Deno.test({
    name: `broker conformance: ${name}`,
    ...options,
    async fn(t) {
      for (const step of [...queueSteps, ...leaseSteps, ...limitSteps]) {
        await t.step(step.name, async () => {
          const fixture = await factory();
          try {
            await step.run(fixture);
          } finally {
            await fixture.dispose();
          }
        });
      }
    },
  });
}
