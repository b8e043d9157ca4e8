import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { connectPostgres } from "../db/postgres.ts";
import { testDatabaseUrl } from "../db/testing.ts";
import { BROKER_UNAVAILABLE, DATABASE_UNAVAILABLE, toPublicError } from "./rpc_interceptor.ts";

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

Deno.test("toPublicError: an unreachable Postgres or Redis is Unavailable, a bad statement stays Internal", async () => {
  const down = connectPostgres(`postgres://postgres@127.0.0.1:${closedPort()}/postgres`, { max: 1 });
  const refused = await rejection(down`select 1`);
  await down.end();
  const mapped = toPublicError(refused, "req-1");
  assert.equal(mapped.code, Code.Unavailable);
  assert.equal(mapped.rawMessage, DATABASE_UNAVAILABLE);
  assert.equal(mapped.metadata.get("x-request-id"), "req-1");

  // A service that wrapped the outage in an Internal of its own (the tag service does) is unwrapped.
  const wrapped = new ConnectError(
    "internal error in the tag service",
    Code.Internal,
    undefined,
    undefined,
    refused,
  );
  assert.equal(toPublicError(wrapped, "req-2").code, Code.Unavailable);

  const sql = connectPostgres(testDatabaseUrl(), { max: 1 });
  try {
    const syntax = await rejection(sql`select from where`);
    const internal = toPublicError(syntax, "req-4");
    assert.equal(internal.code, Code.Internal);
    assert.match(internal.rawMessage, /^internal error: quote request id req-4 to an operator$/);
  } finally {
    await sql.end();
  }

  const redis = new Redis({
    host: "127.0.0.1",
    port: closedPort(),
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  const redisError = await rejection(redis.get("k"));
  redis.disconnect();
  const broker = toPublicError(redisError, "req-5");
  assert.equal(broker.code, Code.Unavailable, String(redisError));
  assert.equal(broker.rawMessage, BROKER_UNAVAILABLE);

  // ConnectErrors with a code of their own pass as they are.
  const notFound = new ConnectError("task x not found", Code.NotFound);
  assert.equal(toPublicError(notFound, "req-6"), notFound);
});
