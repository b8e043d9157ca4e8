/**
 * `deno task admin:create --email <email> [--name <name>] [--password <password>]`:
 * creates a verified admin. Without --password it asks, without echo when the
 * terminal allows; TASKMESH_ADMIN_PASSWORD is read for scripts.
 */
import { parseArgs } from "node:util";
import { systemClock } from "../clock.ts";
import { EnvReader, readServerConfig } from "../config.ts";
import { ConfigError } from "../config.ts";
import { createLogger } from "../log.ts";
import { openStorage } from "../storage.ts";
import { createAdmin } from "./first_admin.ts";

const USAGE = "usage: deno task admin:create --email <email> [--name <display name>] [--password <password>]";

async function readPassword(): Promise<string> {
  const fromEnv = Deno.env.get("TASKMESH_ADMIN_PASSWORD");
  if (fromEnv) return fromEnv;
  if (!Deno.stdin.isTerminal()) {
    // Piped: the first line of stdin.
    const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    return text.split("\n")[0].replace(/\r$/, "");
  }
  Deno.stderr.writeSync(new TextEncoder().encode("password (12–128 characters): "));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while ((await Deno.stdin.read(buffer)) === 1) {
      const b = buffer[0];
      if (b === 13 || b === 10) break;
      if (b === 3) throw new Error("cancelled");
      if (b === 127 || b === 8) bytes.pop();
      else bytes.push(b);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { email: { type: "string" }, name: { type: "string" }, password: { type: "string" } },
  });
  if (!values.email) {
    console.error(USAGE);
    return 2;
  }
  const reader = new EnvReader(env);
  const server = readServerConfig(reader);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  const log = createLogger({ level: "warn" });
  const storage = await openStorage(server, log, {
    shareEmbedded: true,
    holder: "deno task admin:create",
    redis: false,
  });
  if (storage.sharedWith) {
    console.error(`using the embedded database of the running taskmesh (pid ${storage.sharedWith.pid})`);
  }
  try {
    const password = values.password ?? await readPassword();
    const user = await createAdmin({ sql: storage.sql, clock: systemClock }, {
      email: values.email,
      password,
      displayName: values.name,
    });
    console.error(`admin ${user.email} created (id ${user.id})`);
    return 0;
  } catch (error) {
    console.error(`admin:create: ${(error as Error).message}`);
    return 1;
  } finally {
    await storage.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args, Deno.env.toObject()));
