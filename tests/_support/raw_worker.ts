/**
 * A worker speaking the raw protocol from the generated client, so tests control
 * every message (and can misbehave) without the SDK in between.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  WorkerService,
} from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import type { Clock } from "../../server/clock.ts";
import type { Sql } from "../../server/db/postgres.ts";
import type { TestServer } from "./server.ts";

export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** An admin token and a `worker` API key on a test server. */
export function credentials(server: TestServer): Promise<{ admin: string; workerKey: string }> {
  return credentialsOn(server.deps, server.connect());
}

/** The same on any server: one in another process, reached through `transport`, on the database `sql` opens. */
export async function credentialsOn(
  db: { sql: Sql; clock: Clock },
  transport: Transport,
): Promise<{ admin: string; workerKey: string }> {
  const email = `admin-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  await createAdmin(db, { email, password });
  const auth = createClient(AuthService, transport);
  const admin = (await auth.login({ email, password })).tokens!.accessToken;
  const { secret } = await auth.createApiKey({ name: "worker", scopes: ["worker"] }, bearer(admin));
  return { admin, workerKey: secret };
}

type Message = ConnectResponse["message"];
type Kind = NonNullable<Message["case"]>;
type ValueOf<K extends Kind> = Message extends infer M ? M extends { case: K; value: infer V } ? V : never
  : never;

export interface RawWorker {
  send(message: MessageInitShape<typeof ConnectRequestSchema>["message"]): void;
  /** The next message from the server (fails if the stream ends first). */
  next(): Promise<ConnectResponse>;
  /** Reads until a message of this kind arrives, returning it. */
  nextOf<K extends Kind>(kind: K): Promise<ValueOf<K>>;
  /** Half-closes the request side, as a worker that is done. */
  end(): void;
  /** Drops the stream, as a crashed worker. */
  kill(): void;
  /** Resolves when the server ends the stream. */
  ended: Promise<unknown>;
}

export function openRawWorker(transport: Transport, apiKey: string): RawWorker {
  const client = createClient(WorkerService, transport);
  const pending: ConnectRequest[] = [];
  let wakeWriter: (() => void) | undefined;
  let closed = false;
  const requests = (async function* () {
    while (true) {
      const item = pending.shift();
      if (item) {
        yield item;
        continue;
      }
      if (closed) return;
      await new Promise<void>((r) => wakeWriter = r);
    }
  })();
  const abort = new AbortController();
  const responses = client.connect(requests, { ...bearer(apiKey), signal: abort.signal })
    [Symbol.asyncIterator]();
  const received: ConnectResponse[] = [];
  let wakeReader: (() => void) | undefined;
  let failure: unknown;
  let done = false;
  const ended = (async () => {
    try {
      while (true) {
        const r = await responses.next();
        if (r.done) break;
        received.push(r.value);
        wakeReader?.();
      }
    } catch (error) {
      failure = error;
    } finally {
      done = true;
      wakeReader?.();
    }
    return failure;
  })();
  /** The next message off the stream. */
  const nextReceived = async (): Promise<ConnectResponse> => {
    while (received.length === 0) {
      if (done) throw failure ?? new Error("the server ended the stream");
      await new Promise<void>((r) => wakeReader = r);
    }
    return received.shift()!;
  };
  // Assigns passed over by nextOf of another kind, kept in order: the server gives a slot back
  // when a Result arrives, so the next Assign may come before that Result's ResultAck.
  const skippedAssigns: ConnectResponse[] = [];
  const next = (): Promise<ConnectResponse> =>
    skippedAssigns.length > 0 ? Promise.resolve(skippedAssigns.shift()!) : nextReceived();
  return {
    send(message) {
      pending.push(create(ConnectRequestSchema, { message }));
      wakeWriter?.();
    },
    next,
    async nextOf<K extends Kind>(kind: K): Promise<ValueOf<K>> {
      while (true) {
        const m = kind === "assign" ? await next() : await nextReceived();
        if (m.message.case === kind) return m.message.value as ValueOf<K>;
        if (m.message.case === "assign") skippedAssigns.push(m);
      }
    },
    end() {
      closed = true;
      wakeWriter?.();
    },
    kill() {
      abort.abort();
    },
    ended,
  };
}
