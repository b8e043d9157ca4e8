/** The first message of a WorkerService.Connect stream, within a time limit. */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock } from "../clock.ts";

/**
 * The stream's first message, or DeadlineExceeded when none came within `ms`: a stream that
 * never says Hello would otherwise hold its connection forever.
 */
export async function firstMessage<T>(
  it: AsyncIterator<T>,
  ms: number,
  clock: Clock,
  signal: AbortSignal,
): Promise<IteratorResult<T>> {
  const timer = new AbortController();
  const stop = () => timer.abort();
  signal.addEventListener("abort", stop, { once: true });
  const next = it.next();
  next.catch(() => {}); // awaited below; this only keeps a late rejection from going unhandled
  try {
    const expired = clock.sleep(ms, timer.signal).then(() => true, () => false);
    const winner = await Promise.race([next, expired]);
    if (winner === true) {
      throw new ConnectError(
        `no Hello within ${ms} ms: a worker must send Hello first, as soon as the stream opens`,
        Code.DeadlineExceeded,
      );
    }
    return winner === false ? await next : winner;
  } finally {
    timer.abort();
    signal.removeEventListener("abort", stop);
  }
}
