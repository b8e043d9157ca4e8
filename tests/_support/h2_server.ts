/**
 * Helpers for tests that run the server as a child process and attack its HTTP/2 transport:
 * a free port, waiting until Health answers, and how the process ended when a round failed.
 */
import { HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.ts";

/** How the server process ended, if it ends within 2 s: what a failed round is reported with. */
export async function exitOf(exited: Promise<{ code: number; stderr: string }>): Promise<string> {
  const timer = new AbortController();
  const outcome = await Promise.race([
    exited.then(({ code, stderr }) => `the server exited with ${code}: ${stderr.trim().split("\n").at(-1)}`),
    new Promise<string>((resolve) => {
      const id = setTimeout(() => resolve("the server is still running"), 2000);
      timer.signal.addEventListener("abort", () => clearTimeout(id));
    }),
  ]);
  timer.abort();
  return outcome;
}

export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** Waits until the server answers Health: it logs nothing at warn level when it listens. */
export async function untilServing(
  health: { check(req: object, opts: { timeoutMs: number }): Promise<{ status: Status }> },
  exited: () => unknown,
): Promise<void> {
  for (let wait = 50;; wait = Math.min(wait * 2, 500)) {
    if (exited()) throw new Error(`the server exited before it served: ${JSON.stringify(exited())}`);
    const ok = await health.check({}, { timeoutMs: 1000 }).then(
      (r) => r.status === Status.SERVING,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * After a round of attack: Health must answer within 5 s, or the round fails with how the process
 * ended. Alive is what this asserts: under a burst on a busy machine a dependency probe can miss
 * its deadline and turn the services NOT_SERVING for a moment (the log says so), so then it waits
 * for SERVING again before the next round.
 */
export async function answersHealth(
  what: string,
  health: { check(req: object, opts: { timeoutMs: number }): Promise<{ status: Status }> },
  proc: { exited: Promise<{ code: number; stderr: string }>; lines: Record<string, unknown>[] },
  exited: () => unknown,
): Promise<void> {
  const answer = await health.check({}, { timeoutMs: 5000 }).catch(async (error) => {
    throw new Error(`${what}: Health did not answer (${error.message}); ${await exitOf(proc.exited)}`);
  });
  if (answer.status === Status.SERVING) return;
  const warned = proc.lines.filter((l) => l.level === "warn").map((l) => l.msg);
  console.warn(
    `${what}: Health answered ${Status[answer.status]}; the server warned ${JSON.stringify(warned)}`,
  );
  await untilServing(health, exited);
}
