/** Shared by the schedule tests: a server on a manual clock, its schedules, and waits on their fires. */
import { createClient } from "@connectrpc/connect";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { ManualClock } from "../../server/clock.ts";
import type { Schedules } from "../../server/schedules/schedules.ts";
import { bearer, credentials } from "./raw_worker.ts";
import { startTestServer, type TestServer } from "./server.ts";
import { until } from "./until.ts";

export function schedulesOf(server: TestServer): Schedules {
  const s = server.app.runtimes.schedules;
  if (!s) throw new Error("this server has no schedules");
  return s;
}

/** One server (or more, sharing `clock`) with an admin client. */
export async function scheduleServer(
  options: { clock?: ManualClock; redis?: boolean; peerOf?: TestServer; env?: Record<string, string> } = {},
) {
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 5, 1, 12));
  const server = await startTestServer({
    redis: options.redis ?? false,
    clock,
    peerOf: options.peerOf,
    env: options.env,
  });
  const { admin } = await credentials(options.peerOf ?? server);
  return {
    server,
    clock,
    client: createClient(TaskService, server.grpc()),
    as: bearer(admin),
    schedules: schedulesOf(server),
    close: () => server.close(),
  };
}

/** The fires recorded for a schedule, oldest first. */
export async function firesOf(server: TestServer, id: string) {
  return (await schedulesOf(server).fires(id, 1000, "")).items.reverse();
}

/** Waits until the schedule has handled every tick up to `tick`: its next fire is past it, and no claim is open. */
export async function handledUpTo(server: TestServer, id: string, tick: number): Promise<void> {
  await until(`schedule ${id} handled its tick at ${new Date(tick).toISOString()}`, async () => {
    const s = await schedulesOf(server).get(id);
    return (s.nextFireAt === null || s.nextFireAt > tick) && s.claimedUntil === null ? true : undefined;
  }, 5000);
}
