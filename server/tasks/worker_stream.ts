/**
 * WorkerService.Connect, one worker's bidi stream from its Hello to its end: the Hello is
 * checked, a WorkerSession (worker_session.ts) takes the stream, a reader hands it each
 * message and a dispatcher hands out tasks, and the session gives its leases back when
 * the stream ends.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRequest, ConnectResponse, Hello } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { boundedInt, text } from "../kit/validate.ts";
import { invalid, validLabels, validQueue, validType } from "./_spec.ts";
import { firstMessage } from "./_hello_timeout.ts";
import type { TasksRuntime } from "./runtime.ts";
import { WorkerSession } from "./worker_session.ts";

/** Most task types one Hello may declare. */
const MAX_TASK_TYPES = 256;

export function validateHello(hello: Hello): void {
  text("hello.worker_id", hello.workerId, { min: 1, max: 128 });
  if (hello.queues.length < 1 || hello.queues.length > 32) throw invalid("hello.queues", "name 1–32 queues");
  hello.queues.forEach((q, i) => validQueue(q, `hello.queues[${i}]`));
  boundedInt("hello.concurrency", hello.concurrency, 1, 1000);
  validLabels(hello.labels, "hello.labels");
  text("hello.version", hello.version, { max: 128 });
  if (hello.taskTypes.length > MAX_TASK_TYPES) {
    throw invalid("hello.task_types", `names ${hello.taskTypes.length} types: the most is ${MAX_TASK_TYPES}`);
  }
  hello.taskTypes.forEach((t, i) => validType(t, `hello.task_types[${i}]`));
}

/** WorkerService.Connect for one stream. */
export async function* runWorkerSession(
  runtime: TasksRuntime,
  requests: AsyncIterable<ConnectRequest>,
  signal: AbortSignal,
  serverId: string,
  ownerId?: string,
): AsyncGenerator<ConnectResponse> {
  const it = requests[Symbol.asyncIterator]();
  const first = await firstMessage(it, runtime.config.helloTimeoutMs ?? 10_000, runtime.clock, signal);
  if (first.done || first.value.message.case !== "hello") {
    throw new ConnectError(
      "the first message must be Hello: send worker id, queues and concurrency",
      Code.InvalidArgument,
    );
  }
  const hello = first.value.message.value;
  validateHello(hello);
  await refuseTakeover(runtime, hello.workerId, ownerId);
  const session = new WorkerSession(runtime, hello, serverId);
  session.ownerId = ownerId;
  // A worker reconnecting under the same id: its old stream is dead even if TCP has not noticed.
  await runtime.attach(session)?.close();
  runtime.log.info("worker connected", {
    worker_id: hello.workerId,
    queues: hello.queues,
    concurrency: hello.concurrency,
  });
  session.send({
    case: "welcome",
    value: {
      heartbeatInterval: durationFromMs(runtime.config.heartbeatMs),
      leaseTtl: durationFromMs(runtime.config.leaseTtlMs),
      serverId,
      // This server takes ResultBatch from any worker; it sends batches only to one that asked.
      batches: hello.batches,
    },
  });
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  let failure: unknown;
  const reader = (async () => {
    try {
      while (!both.aborted) {
        const next = await it.next();
        // A revoked credential aborts the signal: what arrives after that is not taken.
        if (next.done || both.aborted) break;
        await session.handle(next.value);
      }
    } catch (error) {
      failure = error;
    } finally {
      session.out.close();
    }
  })();
  const dispatcher = session.dispatch(both).catch((error) => {
    failure ??= error;
    session.out.close();
  });
  try {
    yield* session.out.drain(both);
    if (failure) throw failure;
  } finally {
    stop.abort();
    // A newer stream of the same worker on this instance owns the registry entry then.
    await runtime.detach(session);
    await session.close();
    // Not the reader: it may be parked on the request stream until the transport is torn down.
    void reader;
    await dispatcher;
    runtime.log.info("worker disconnected", { worker_id: hello.workerId });
  }
}

/**
 * A worker id connected under another owner's key (on any instance) is not theirs to
 * take: its stream would be cut and its tasks' results refused.
 */
async function refuseTakeover(runtime: TasksRuntime, workerId: string, ownerId: string | undefined) {
  const current = runtime.session(workerId)?.ownerId ??
    (await runtime.workers()).find((w) => w.id === workerId)?.ownerId;
  if (current && ownerId && current !== ownerId) {
    throw new ConnectError(
      `worker id ${JSON.stringify(workerId)} is connected with another owner's key: choose another worker id`,
      Code.PermissionDenied,
    );
  }
}
