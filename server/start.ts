/**
 * `deno task start`: the whole system on one machine. With no DATABASE_URL or
 * REDIS_URL it runs on embedded defaults (PGlite in TASKMESH_DATA_DIR, an in-memory
 * broker), so a newcomer needs nothing but Deno.
 */
import { ConfigError } from "./config.ts";
import { runServer, waitForSignal } from "./main.ts";

let server;
try {
  server = await runServer(Deno.env.toObject());
} catch (error) {
  console.error(error instanceof ConfigError ? `taskmesh: ${error.message}` : error);
  Deno.exit(error instanceof ConfigError ? 2 : 1);
}
const signal = await waitForSignal();
console.error(`taskmesh: ${signal} received, shutting down`);
await server.stop();
Deno.exit(0);
