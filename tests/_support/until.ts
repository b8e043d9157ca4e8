/** Waiting for a condition, never for a fixed time. */

/** Re-checks a condition after each server round trip, up to a bound; no timers. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 2000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: never happened`);
}

/**
 * Re-checks a condition every `everyMs` until it holds or `timeoutMs` has passed, for waits
 * that last seconds (a restart, thousands of tasks) where checking after every round trip
 * would only load a busy machine. The bound is generous: it says "never", not "too slow".
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 60_000, everyMs = 100 } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
