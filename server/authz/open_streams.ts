/**
 * The streams this instance serves, by the credential that opened them, so a
 * revocation ends them at once: a worker stream stops getting Assigns and its Results
 * are no longer taken, a Watch stream stops reading. Each is told why, with
 * UNAUTHENTICATED. Revocations arrive on the bus (revocations.ts); a periodic re-check in
 * Postgres is the backstop for an announcement that was lost (Redis down, an instance
 * that missed it), and also ends the streams of a key that has expired.
 */
import { Code, ConnectError, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import type { Caller } from "../auth/caller.ts";
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import type { Revocation, RevocationBus } from "./revocations.ts";

type Credentialed = Exclude<Caller, { kind: "anonymous" }>;

interface Open {
  caller: Credentialed;
  controller: AbortController;
}

/** How often the open streams' credentials are checked again in Postgres. */
export const RECHECK_MS = 5_000;

const KEY_REVOKED = "the API key was revoked, expired or its owner disabled: this stream has ended; " +
  "use a valid key to connect again";
const USER_DISABLED = "the account was disabled: this stream has ended";
const ROLE_CHANGED = "the account's role changed: this stream has ended; connect again to be authorized " +
  "with the new role";
const SIGNED_OUT = "the session was signed out: this stream has ended; log in again";

export class OpenStreams {
  readonly #open = new Set<Open>();
  readonly #off: () => void;
  readonly #offHearing: () => void;
  #recheck?: AbortController;

  constructor(
    private readonly options: {
      bus: RevocationBus;
      sql: Sql;
      clock: Clock;
      log: Logger;
      recheckMs?: number;
    },
  ) {
    this.#off = options.bus.subscribe((r) => this.revoke(r));
    // Hearing again after a gap: what was announced meanwhile is lost, so look now, not at the next tick.
    this.#offHearing = options.bus.watchHearing((hearing) => {
      if (!hearing || this.#open.size === 0) return;
      this.recheck().catch((error) =>
        options.log.warn("could not re-check the credentials of open streams: trying again later", {
          error: String(error),
        })
      );
    });
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Runs a streaming call under the caller's credential: the handler's signal aborts and
   * the response ends with UNAUTHENTICATED as soon as the credential is revoked.
   */
  async guard(
    caller: Caller,
    req: StreamRequest,
    next: (req: StreamRequest) => Promise<StreamResponse>,
  ): Promise<StreamResponse> {
    if (caller.kind === "anonymous") return await next(req);
    const open: Open = { caller, controller: new AbortController() };
    this.#add(open);
    const signal = open.controller.signal;
    let res: StreamResponse;
    try {
      res = await next({ ...req, signal: AbortSignal.any([req.signal, signal]) });
    } catch (error) {
      this.#remove(open);
      throw error;
    }
    return { ...res, message: this.#guarded(res.message, open) };
  }

  async *#guarded<T>(source: AsyncIterable<T>, open: Open): AsyncGenerator<T> {
    const signal = open.controller.signal;
    const it = source[Symbol.asyncIterator]();
    // One listener for the stream's life, failing whichever read is pending (not a race per
    // message against one long-lived promise, whose reactions would pile up).
    let failRead: ((reason: unknown) => void) | undefined;
    const onAbort = () => failRead?.(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let finished = false;
    try {
      while (true) {
        if (signal.aborted) throw signal.reason;
        const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
          failRead = reject;
          it.next().then(resolve, reject);
        });
        failRead = undefined;
        if (signal.aborted) throw signal.reason;
        if (next.done) {
          finished = true;
          return;
        }
        yield next.value;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#remove(open);
      // The handler saw its signal abort and is finishing (a worker session gives back its
      // leases); waiting for it here would hold the client's answer back.
      if (!finished) it.return?.().catch(() => {});
    }
  }

  /** Ends every stream the revocation reaches. */
  revoke(revocation: Revocation): void {
    for (const open of [...this.#open]) {
      const reason = reach(open.caller, revocation);
      if (reason) this.#end(open, reason, revocation.kind);
    }
  }

  #end(open: Open, message: string, why: string): void {
    this.#remove(open);
    if (open.controller.signal.aborted) return;
    const c = open.caller;
    this.options.log.info("ending a stream: its credential was revoked", {
      why,
      ...(c.kind === "api_key" ? { key_id: c.keyId } : { user_id: c.userId }),
    });
    open.controller.abort(new ConnectError(message, Code.Unauthenticated));
  }

  #add(open: Open): void {
    this.#open.add(open);
    if (!this.#recheck) {
      this.#recheck = new AbortController();
      void this.#recheckLoop(this.#recheck.signal);
    }
  }

  #remove(open: Open): void {
    this.#open.delete(open);
    if (this.#open.size === 0) {
      this.#recheck?.abort();
      this.#recheck = undefined;
    }
  }

  /** While any stream is open: every RECHECK_MS, end those whose credential no longer holds. */
  async #recheckLoop(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.options;
    while (!signal.aborted) {
      await clock.sleep(this.options.recheckMs ?? RECHECK_MS, signal).catch(() => {});
      if (signal.aborted) return;
      try {
        await this.recheck();
      } catch (error) {
        log.warn("could not re-check the credentials of open streams: trying again later", {
          error: String(error),
        });
      }
    }
  }

  /** Checks every open stream's credential in Postgres and ends those that no longer hold. */
  async recheck(): Promise<void> {
    const { sql, clock } = this.options;
    const keys = new Set<string>();
    const users = new Set<string>();
    const families = new Set<string>();
    for (const { caller } of this.#open) {
      if (caller.kind === "api_key") keys.add(caller.keyId);
      else {
        users.add(caller.userId);
        if (caller.sessionId) families.add(caller.sessionId);
      }
    }
    const now = new Date(clock.now());
    const deadKeys = new Set(
      keys.size === 0 ? [] : (await sql<{ id: string }[]>`
        select k.id from api_keys k join users u on u.id = k.owner_id
        where k.id = any(${[...keys]}::uuid[])
          and (k.revoked_at is not null or k.expires_at <= ${now} or u.disabled_at is not null)`)
        .map((r) => r.id),
    );
    const deadUsers = new Set(
      users.size === 0 ? [] : (await sql<{ id: string }[]>`
        select id from users where id = any(${[...users]}::uuid[]) and disabled_at is not null`)
        .map((r) => r.id),
    );
    const deadFamilies = new Set(
      families.size === 0 ? [] : (await sql<{ id: string }[]>`
        select id from refresh_families where id = any(${[...families]}::uuid[]) and revoked_at is not null`)
        .map((r) => r.id),
    );
    for (const open of [...this.#open]) {
      const c = open.caller;
      if (c.kind === "api_key" && deadKeys.has(c.keyId)) this.#end(open, KEY_REVOKED, "recheck");
      else if (c.kind === "user" && deadUsers.has(c.userId)) this.#end(open, USER_DISABLED, "recheck");
      else if (c.kind === "user" && c.sessionId && deadFamilies.has(c.sessionId)) {
        this.#end(open, SIGNED_OUT, "recheck");
      }
    }
  }

  close(): void {
    this.#off();
    this.#offHearing();
    this.#recheck?.abort();
  }
}

/** Why the revocation ends a stream opened by this caller, or undefined when it does not. */
function reach(caller: Credentialed, r: Revocation): string | undefined {
  switch (r.kind) {
    case "api_key":
      return caller.kind === "api_key" && caller.keyId === r.keyId ? KEY_REVOKED : undefined;
    case "user":
      if (caller.kind === "api_key") return caller.ownerId === r.userId ? KEY_REVOKED : undefined;
      return caller.userId === r.userId ? USER_DISABLED : undefined;
    case "sessions":
      if (caller.kind !== "user" || caller.userId !== r.userId) return undefined;
      if (r.familyIds && !(caller.sessionId && r.familyIds.includes(caller.sessionId))) return undefined;
      return SIGNED_OUT;
    case "role":
      // A stream was authorized with the old role: every one of the user's, and of their keys',
      // ends, and connects again under the new role (a key's scopes narrow with its owner's role).
      if (caller.kind === "api_key") return caller.ownerId === r.userId ? ROLE_CHANGED : undefined;
      return caller.userId === r.userId ? ROLE_CHANGED : undefined;
  }
}
