/**
 * The regression net for request validation: every string field of every request of
 * every service the server can serve (found by walking the generated descriptors, so a
 * field added tomorrow is swept the day it lands) gets a NUL, an escape and an over-long
 * string, over a real server on real Postgres. NUL and the escape must answer
 * InvalidArgument naming the field; nothing may ever answer Internal or Unknown.
 */
import assert from "node:assert/strict";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { SANITISED_FIELDS } from "../server/kit/request_shape.ts";
import { ALL_DESCS } from "../server/services.ts";
import { bearer, credentials } from "./_support/raw_worker.ts";
import { type Fields, type SlotKind, slotsOf } from "./_support/request_slots.ts";
import { startTestServer, type TestServer } from "./_support/server.ts";

// deno-lint-ignore no-explicit-any
type CallAny = (...args: any[]) => any;

const RANDOM_ID = "0b5e7a4c-9f7e-4a53-8f0e-3c1d2b6a7e11";
const HELLO = { workerId: "sweep", queues: ["sweep"], concurrency: 1 };

/**
 * A request that passes every other check where that matters, so the bad field gets as
 * deep as it can (into SQL). Methods not listed start from the empty request.
 */
const BASELINES: Record<string, Fields> = {
  "TaskService/Enqueue": { task: { queue: "sweep", type: "sweep.task" } },
  "TaskService/EnqueueBatch": { tasks: [{ queue: "sweep", type: "sweep.task" }] },
  "TaskService/CancelTask": { id: RANDOM_ID },
  "TaskService/WatchTasks": { queue: "sweep" },
  "AuthService/Login": { email: "nobody@example.com", password: "not the password" },
  "AuthService/DisableUser": { userId: RANDOM_ID },
  "AuthService/CreateApiKey": { name: "sweep", scopes: ["tasks:read"] },
  "TagService/CreateTag": { name: "Sweep", type: 1 },
  "TagService/SuggestTag": { name: "Sweep", type: 1 },
  "TagService/RejectSuggestion": { id: RANDOM_ID, reason: "no" },
  "WorkerService/DrainWorker": { id: "sweep" },
};

interface Bad {
  label: string;
  value: () => unknown;
  /** The value breaks a rule every field keeps: InvalidArgument naming the field, whatever the method. */
  refused: boolean;
}

/** Puts each bad value in each field of the kind, in every request of every service, and checks the answers. */
async function sweep(
  server: TestServer,
  t: Deno.TestContext,
  kind: SlotKind,
  values: Bad[],
): Promise<number> {
  const { admin, workerKey } = await credentials(server);
  // Binary: the JSON codec would refuse some of these values before they left the client.
  const transport = server.grpc();
  let swept = 0;
  for (const service of ALL_DESCS) {
    const client = createClient(service, transport) as unknown as Record<string, CallAny>;
    for (const method of service.methods) {
      const key = `${service.name}/${method.name}`;
      const slots = slotsOf(method.input, kind);
      if (slots.length === 0) continue;
      await t.step(key, async () => {
        for (const slot of slots) {
          for (const bad of values) {
            const message = create(method.input, BASELINES[key] ?? {}) as unknown as Fields;
            slot.put(message, bad.value());
            const token = method.methodKind === "bidi_streaming" ? workerKey : admin;
            const error = await call(client, method, message, token);
            const where = `${key} ${slot.path} ← ${bad.label}`;
            const code = error?.code;
            assert.ok(code !== Code.Internal && code !== Code.Unknown, `${where}: ${error?.rawMessage}`);
            // A worker's own free text is cleaned rather than refused (request_shape.ts).
            if (bad.refused && !SANITISED_FIELDS.has(`${slot.owner}.${slot.name}`)) {
              assert.equal(code, Code.InvalidArgument, `${where}: ${error?.rawMessage ?? "accepted"}`);
              assert.match(error!.rawMessage, new RegExp(`\\b${slot.name}\\b`), `${where} names its field`);
            }
            swept++;
          }
        }
      });
    }
  }
  return swept;
}

/** Makes one call; undefined when it succeeded (a stream: its first answer, or none within the bound). */
async function call(
  client: Record<string, CallAny>,
  method: DescMethod,
  message: Fields,
  token: string,
): Promise<ConnectError | undefined> {
  const options = { ...bearer(token), signal: AbortSignal.timeout(5000) };
  try {
    switch (method.methodKind) {
      case "unary":
        await client[method.localName](message, options);
        return undefined;
      case "server_streaming":
        for await (const _ of client[method.localName](message, options)) break;
        return undefined;
      case "bidi_streaming": {
        const messages = (message as { message?: { case?: string } }).message?.case === "hello"
          ? [message]
          : [create(method.input, { message: { case: "hello", value: HELLO } }), message];
        for await (
          const _ of client[method.localName](
            (async function* () {
              yield* messages;
            })(),
            options,
          )
        );
        return undefined;
      }
      default:
        throw new Error(`no client-streaming method expected: ${method.name}`);
    }
  } catch (error) {
    return ConnectError.from(error);
  }
}

Deno.test("a NUL, an escape and an over-long string in every string field of every request: never Internal", async (t) => {
  const server = await startTestServer();
  try {
    const swept = await sweep(server, t, "string", [
      { label: "NUL", value: () => "a\u0000b", refused: true },
      { label: "escape", value: () => "a\u001b[2Jb", refused: true },
      { label: "C1 control", value: () => "a\u009bb", refused: true },
      { label: "over-long", value: () => "x".repeat(70_000), refused: false },
    ]);
    assert.ok(swept > 400, `only ${swept} cases: the descriptor walk found too few fields`);
  } finally {
    await server.close();
  }
});

Deno.test("an unknown value in every enum field of every request is InvalidArgument naming the field", async (t) => {
  const server = await startTestServer();
  try {
    const swept = await sweep(server, t, "enum", [{ label: "99", value: () => 99, refused: true }]);
    assert.ok(swept >= 10, `only ${swept} enum fields found`);
  } finally {
    await server.close();
  }
});

Deno.test("a malformed or out-of-range Duration and Timestamp, and a NaN, in every field of every request", async (t) => {
  const server = await startTestServer();
  try {
    const duration = (seconds: bigint, nanos: number) => () => create(DurationSchema, { seconds, nanos });
    const timestamp = (seconds: bigint, nanos: number) => () => create(TimestampSchema, { seconds, nanos });
    let swept = await sweep(server, t, "duration", [
      { label: "nanos against seconds", value: duration(10n, -1), refused: true },
      { label: "nanos out of range", value: duration(0n, 1_000_000_000), refused: true },
      { label: "beyond 10,000 years", value: duration(400_000_000_000n, 0), refused: true },
      { label: "35 days", value: duration(3_000_000n, 0), refused: false },
      { label: "negative", value: duration(-5n, 0), refused: false },
    ]);
    swept += await sweep(server, t, "timestamp", [
      { label: "2^62 s", value: timestamp(2n ** 62n, 0), refused: true },
      { label: "year 10000", value: timestamp(253_402_300_800n, 0), refused: true },
      { label: "negative nanos", value: timestamp(0n, -1), refused: true },
      { label: "year 9999", value: timestamp(253_402_300_799n, 0), refused: false },
      { label: "year 0001", value: timestamp(-62_135_596_800n, 0), refused: false },
    ]);
    swept += await sweep(server, t, "number", [
      { label: "NaN", value: () => NaN, refused: true },
      { label: "Infinity", value: () => Infinity, refused: true },
      { label: "huge", value: () => 1e300, refused: false },
    ]);
    assert.ok(swept >= 40, `only ${swept} cases found`);
  } finally {
    await server.close();
  }
});
