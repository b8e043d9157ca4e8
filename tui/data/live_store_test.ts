/**
 * The live store's life: list then watch, events during the list, a dropped stream
 * with backoff on a manual clock, a resync asked for by the reducer, a refusal that
 * ends the store, a restart with a new source. The source is scripted in the test.
 */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { ManualClock } from "./clock.ts";
import { type LiveSource, LiveStore, RESYNC } from "./live_store.ts";

/** A stream the test writes to. */
class Feed {
  #items: (number | Error | "end")[] = [];
  #wake: (() => void) | undefined;
  push(item: number | Error | "end") {
    this.#items.push(item);
    this.#wake?.();
  }
  async *read(signal: AbortSignal): AsyncGenerator<number> {
    const onAbort = () => this.#wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const item = this.#items.shift();
        if (item === undefined) {
          await new Promise<void>((r) => this.#wake = r);
          continue;
        }
        if (item === "end") return;
        if (item instanceof Error) throw item;
        yield item;
      }
      throw signal.reason;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

interface Script {
  feeds: Feed[];
  lists: PromiseWithResolvers<number[]>[];
  opened: number;
  /** Woken whenever list() is called. */
  listeners: (() => void)[];
}

/** Resolves once list() has been called `n` times. */
function listed(script: Script, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (script.lists.length >= n ? resolve() : void script.listeners.push(check));
    check();
  });
}

/** State: the numbers seen; an event -1 asks for a resync. */
function source(script: Script): LiveSource<number[], number> {
  return {
    name: "numbers",
    empty: [],
    list() {
      const next = Promise.withResolvers<number[]>();
      script.lists.push(next);
      for (const wake of script.listeners.splice(0)) wake();
      return next.promise;
    },
    watch(signal) {
      const feed = new Feed();
      script.feeds.push(feed);
      script.opened++;
      return feed.read(signal);
    },
    reduce: (state, events) => (events.includes(-1) ? RESYNC : [...state, ...events]),
  };
}

function until<S>(store: LiveStore<S, unknown>, holds: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (holds()) {
        off();
        resolve();
      }
    };
    const off = store.subscribe(check);
    check();
  });
}

Deno.test("live store: list, watch, drop, backoff, resync, refusal, restart", async (t) => {
  const clock = new ManualClock();
  const script: Script = { feeds: [], lists: [], opened: 0, listeners: [] };
  const store = new LiveStore(source(script), { clock, random: () => 0.5, backoff: { initialMs: 1000 } });
  store.start();

  await t.step("the watch opens before the list; events meanwhile land on top of it", async () => {
    await listed(script, 1);
    assert.equal(script.opened, 1);
    assert.equal(store.connection.kind, "connecting");
    script.feeds[0].push(3);
    script.lists[0].resolve([1, 2]);
    await until(store, () => store.connection.kind === "live" && store.state.length === 3);
    assert.deepEqual(store.state, [1, 2, 3]);
    script.feeds[0].push(4);
    script.feeds[0].push(5);
    await until(store, () => store.state.length === 5);
    assert.deepEqual(store.state, [1, 2, 3, 4, 5]);
  });

  await t.step("a dropped stream waits (backoff), then lists afresh", async () => {
    script.feeds[0].push(new ConnectError("socket hang up", Code.Unavailable));
    await until(store, () => store.connection.kind === "retrying");
    const c = store.connection as Extract<typeof store.connection, { kind: "retrying" }>;
    assert.equal(c.attempt, 1);
    assert.match(c.error, /unavailable: socket hang up/);
    // Half of the first ceiling (1000 ms), at least a tenth.
    assert.equal(c.retryAt - clock.now(), 550);
    // The old state stays on screen while away.
    assert.deepEqual(store.state, [1, 2, 3, 4, 5]);
    await clock.sleepers(1);
    clock.advance(549);
    await Promise.resolve();
    assert.equal(clock.pendingSleeps, 1, "still waiting out the backoff");
    assert.equal(script.lists.length, 1);
    clock.advance(1);
    await listed(script, 2);
    script.lists[1].resolve([10]);
    await until(store, () => store.connection.kind === "live");
    assert.deepEqual(store.state, [10]);
    assert.equal(store.reconnects, 1);
  });

  await t.step("a stream the server ends cleanly is a drop too", async () => {
    script.feeds[1].push("end");
    await until(store, () => store.connection.kind === "retrying");
    await clock.sleepers(1);
    clock.advance(10_000);
    await listed(script, 3);
    script.lists[2].resolve([20]);
    await until(store, () => store.connection.kind === "live");
  });

  await t.step("a reducer that asks for a resync gets a fresh list at once, no backoff", async () => {
    script.feeds[2].push(-1);
    await listed(script, 4);
    assert.equal(clock.pendingSleeps, 0);
    script.lists[3].resolve([30]);
    await until(store, () => store.connection.kind === "live" && store.state[0] === 30);
  });

  await t.step("a restart with a new source drops the old state and lists again", async () => {
    store.restart({ name: "numbers", empty: [-5] });
    assert.deepEqual(store.state, [-5]);
    await listed(script, 5);
    script.lists[4].resolve([40]);
    await until(store, () => store.state[0] === 40);
  });

  await t.step("permission denied ends the store: retrying cannot help", async () => {
    script.feeds[4].push(new ConnectError("viewers may not", Code.PermissionDenied));
    await until(store, () => store.connection.kind === "denied");
    assert.equal(clock.pendingSleeps, 0);
  });

  await store.stop();
  assert.equal(store.connection.kind, "stopped");
});
