/**
 * For the worker's tests: a WorkerService that the test scripts message by message,
 * served by connect-node over a real HTTP/2 socket on 127.0.0.1. It is a protocol
 * peer, not a stand-in for storage: the test plays the server's part of the
 * conversation and reads every message the worker sends.
 */
import * as http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type AssignSchema,
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  WorkerService,
} from "../gen/taskmesh/tasks/v1/worker_pb.ts";

type RequestMessage = ConnectRequest["message"];
type RequestKind = NonNullable<RequestMessage["case"]>;
type ValueOf<K extends RequestKind> = Extract<RequestMessage, { case: K }>["value"];
export type ResponseMessage = MessageInitShape<typeof ConnectResponseSchema>["message"];

/** An unbounded FIFO with awaitable reads; fine for a test's handful of messages. */
class Mailbox<T> {
  #items: T[] = [];
  #waiters: ((result: IteratorResult<T, undefined>) => void)[] = [];
  #closed = false;

  push(item: T): void {
    if (this.#closed) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ done: false, value: item });
    else this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ done: false, value: item });
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export class ScriptedStream {
  readonly received = new Mailbox<ConnectRequest>();
  readonly outgoing = new Mailbox<ConnectResponse>();
  failure: ConnectError | undefined;
  /** Resolves when the worker is done sending: it half-closed, or the stream is gone. */
  readonly requestsDone: Promise<void>;
  #requestsDone!: () => void;

  constructor(readonly headers: Headers) {
    this.requestsDone = new Promise((resolve) => this.#requestsDone = resolve);
  }

  /** The next message from the worker; fails when the worker has closed its side. */
  async next(): Promise<ConnectRequest> {
    const result = await this.received.next();
    if (result.done) throw new Error("the worker closed its side of the stream");
    return result.value;
  }

  /** Reads until a message of this kind, returning it; `skipped` collects the others. */
  async nextOf<K extends RequestKind>(kind: K, skipped: ConnectRequest[] = []): Promise<ValueOf<K>> {
    while (true) {
      const request = await this.next();
      if (request.message.case === kind) return request.message.value as ValueOf<K>;
      skipped.push(request);
    }
  }

  send(message: ResponseMessage): void {
    this.outgoing.push(create(ConnectResponseSchema, { message }));
  }

  /** Ends the response stream with OK, as a server that is done with this worker. */
  end(): void {
    this.outgoing.close();
  }

  /** Ends the response stream with an error status. */
  fail(error: ConnectError): void {
    this.failure = error;
    this.outgoing.close();
  }

  requestsEnded(): void {
    this.received.close();
    this.#requestsDone();
  }
}

export interface ScriptedServer {
  readonly url: string;
  /** The next stream a worker opens. */
  nextStream(): Promise<ScriptedStream>;
  /** Destroys every HTTP/2 connection, as a crashed server or a cut cable would. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const streams = new Mailbox<ScriptedStream>();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(WorkerService, {
        async *connect(requests, ctx) {
          const stream = new ScriptedStream(ctx.requestHeader);
          streams.push(stream);
          void (async () => {
            try {
              for await (const request of requests) stream.received.push(request);
            } catch {
              // The worker went away; requestsEnded below tells the test.
            } finally {
              stream.requestsEnded();
            }
          })();
          ctx.signal.addEventListener("abort", () => stream.outgoing.close(), { once: true });
          while (true) {
            const next = await stream.outgoing.next();
            if (next.done) break;
            yield next.value;
          }
          if (stream.failure) throw stream.failure;
        },
      });
    },
  });
  const sockets = new Set<Socket>();
  const server = http2.createServer(handler);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  // Sockets, not sessions: session.destroy() sends GOAWAY, which under Deno 2.9 can race the
  // client's teardown into an nghttp2 failure that kills the process (server/listen.ts saw it too).
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    async nextStream() {
      const next = await streams.next();
      if (next.done) throw new Error("the scripted server is closed");
      return next.value;
    },
    dropConnections,
    async close() {
      streams.close();
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Welcome as the server sends it; `batches` as a server that takes and sends batched messages. */
export function welcome(heartbeatMs = 1000, leaseTtlMs = 2000, batches = false): ResponseMessage {
  return {
    case: "welcome",
    value: {
      heartbeatInterval: durationFromMs(heartbeatMs),
      leaseTtl: durationFromMs(leaseTtlMs),
      serverId: "scripted",
      batches,
    },
  };
}

export interface AssignInit {
  taskId: string;
  leaseId?: string;
  type: string;
  payload?: unknown;
  queue?: string;
  attempt?: number;
  /** Ms since the epoch. */
  deadline?: number;
}

/** An Assign's fields for a task whose payload is `payload` as JSON (an AssignBatch holds these). */
export function assignValue(init: AssignInit): MessageInitShape<typeof AssignSchema> {
  const payload = init.payload === undefined
    ? new Uint8Array()
    : new TextEncoder().encode(JSON.stringify(init.payload));
  return {
    task: { id: init.taskId, spec: { queue: init.queue ?? "default", type: init.type, payload } },
    attempt: init.attempt ?? 1,
    leaseId: init.leaseId ?? `lease-${init.taskId}`,
    deadline: init.deadline === undefined ? undefined : timestampFromMs(init.deadline),
  };
}

/** An Assign for a task whose payload is `payload` as JSON. */
export function assign(init: AssignInit): ResponseMessage {
  return { case: "assign", value: assignValue(init) };
}
