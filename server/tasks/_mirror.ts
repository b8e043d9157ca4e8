/**
 * The engine's broker copy of a commit (runtime.ts). The commit has decided, so a broker
 * that fails does not fail the caller: it is logged, and the next promoter tick rebuilds
 * the broker from Postgres (adding a known task moves it, and leases the broker still
 * holds are kept). Nor does the caller wait for a broker that does not answer: past the
 * timeout the change goes on in the background, a rebuild is wanted all the same, and the
 * caller (an Enqueue whose row is committed) answers. A client with a short deadline must
 * never see a committed task as failed.
 */
import { type Logger, rateLimitedLogger } from "../log.ts";

export class Mirror {
  /** A broker that is down fails every mirror: said once in a while, not once a call. */
  readonly #log: Logger;

  constructor(readonly timeoutMs: number, log: Logger, readonly wantRebuild: () => void) {
    this.#log = rateLimitedLogger(log, 10_000);
  }

  async run(what: string, change: () => Promise<unknown>): Promise<void> {
    const failed = (error: unknown) => {
      this.wantRebuild();
      this.#log.warn(`broker failed after ${what}: it is rebuilt from Postgres on the next tick`, {
        error: String(error),
      });
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = new Promise<"slow">((resolve) => timer = setTimeout(() => resolve("slow"), this.timeoutMs));
    // Settles either way, so a change that fails after the caller moved on is still handled.
    const work = change().then(() => "done" as const, (error) => (failed(error), "done" as const));
    const outcome = await Promise.race([work, slow]);
    clearTimeout(timer);
    if (outcome === "slow") failed(new Error(`no answer within ${this.timeoutMs} ms`));
  }
}
