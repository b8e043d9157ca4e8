/**
 * The demo's schedule: one interval schedule (every second, five ticks) whose fires the
 * demo shows at its end with the task each made, then deletes. A plain client of the
 * schedule RPCs, like the rest of the demo.
 */
import { durationFromMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  OverlapPolicy,
  ScheduleFireOutcome,
  TaskService,
  TaskState,
} from "../gen/taskmesh/tasks/v1/tasks_pb.ts";

const TICKS = 5;
const EVERY_MS = 1000;
const POLL_MS = 200;

export type DemoSchedule = { id: string; name: string; description: string } | { skipped: string };

/** Creates the schedule: ticks start on the next whole second but one, and end five ticks later. */
export async function startDemoSchedule(
  tasks: Client<typeof TaskService>,
  runId: string,
  queue: string,
): Promise<DemoSchedule> {
  const start = Math.ceil(Date.now() / 1000) * 1000 + EVERY_MS;
  try {
    const { schedule } = await tasks.createSchedule({
      schedule: {
        name: `demo-${runId}`,
        interval: durationFromMs(EVERY_MS),
        startTime: timestampFromMs(start),
        endTime: timestampFromMs(start + (TICKS - 1) * EVERY_MS),
        overlap: OverlapPolicy.ALLOW,
        task: { queue, type: "noop", labels: { demo_schedule: runId } },
      },
    });
    return { id: schedule!.id, name: schedule!.name, description: schedule!.description };
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.PermissionDenied) {
      return { skipped: "the API key may not create schedules (it needs scope tasks:manage)" };
    }
    throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (until `deadline`) for the schedule's last tick and its tasks to end, prints its fires, deletes it. */
export async function showDemoFires(
  tasks: Client<typeof TaskService>,
  made: DemoSchedule,
  deadline: number,
): Promise<void> {
  if ("skipped" in made) return console.log(`\nno demo schedule: ${made.skipped}`);
  let fires = (await tasks.listScheduleFires({ id: made.id })).fires;
  const ended = (state: TaskState) =>
    state === TaskState.SUCCEEDED || state === TaskState.DEAD || state === TaskState.CANCELLED;
  while (
    Date.now() < deadline &&
    (fires.length < TICKS || fires.some((f) => f.taskId && !ended(f.taskState)))
  ) {
    await sleep(POLL_MS);
    fires = (await tasks.listScheduleFires({ id: made.id })).fires;
  }
  console.log(`\nschedule ${made.name} (${made.description}, ${TICKS} ticks): ${fires.length} fires`);
  for (const f of fires.toReversed()) {
    const tick = new Date(timestampMs(f.tickTime!)).toISOString().slice(11, 23);
    const late = timestampMs(f.fireTime!) - timestampMs(f.tickTime!);
    console.log(
      `  tick ${tick}  ${ScheduleFireOutcome[f.outcome].toLowerCase().padEnd(9)} ` +
        `task ${f.taskId.slice(0, 8)} ${
          TaskState[f.taskState].toLowerCase().padEnd(10)
        } fired ${late} ms after its tick`,
    );
  }
  await tasks.deleteSchedule({ id: made.id });
}
