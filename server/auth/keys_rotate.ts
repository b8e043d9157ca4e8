/**
 * `deno task keys:rotate`: makes a new access-token signing key current. Older public
 * keys stay published until every token they signed has expired, so nobody is
 * signed out. Running servers pick the new key up within their key cache time.
 */
import { systemClock } from "../clock.ts";
import { ConfigError, EnvReader, readServerConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { openStorage } from "../storage.ts";
import { insertAuditEntry } from "./audit.ts";
import { readAuthConfig } from "./config.ts";
import { SigningKeyStore } from "./signing_keys.ts";

export async function main(env: Record<string, string | undefined>): Promise<number> {
  const reader = new EnvReader(env);
  const server = readServerConfig(reader);
  const auth = readAuthConfig(reader);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  const log = createLogger({ level: "warn" });
  const storage = await openStorage(server, log, {
    shareEmbedded: true,
    holder: "deno task keys:rotate",
    redis: false,
  });
  if (storage.sharedWith) {
    console.error(`using the embedded database of the running taskmesh (pid ${storage.sharedWith.pid})`);
  }
  try {
    const keys = new SigningKeyStore({
      sql: storage.sql,
      clock: systemClock,
      log,
      accessTtlSeconds: auth.accessTtlSeconds,
      clockSkewSeconds: auth.clockSkewSeconds,
      encryptionSecret: auth.keyEncryptionSecret,
    });
    const kid = await keys.rotate();
    await insertAuditEntry(storage.sql, {
      actor: "system",
      action: "auth.signing_key.rotate",
      target: `kid:${kid}`,
    }, new Date(systemClock.now()));
    console.log(kid);
    console.error(`signing key ${kid} is now current`);
    return 0;
  } catch (error) {
    console.error(`keys:rotate: ${(error as Error).message}`);
    return 1;
  } finally {
    await storage.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.env.toObject()));
