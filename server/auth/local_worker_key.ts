/**
 * `deno task start` runs a worker beside the server on one machine; it needs an API
 * key of scope `worker`. One key serves every start: it is kept in the data directory
 * (`local-worker-key.json`, mode 0600, beside the embedded database, so it exposes
 * nothing that directory does not) and reused while it still works. A key that was
 * revoked, has less than a week to live, or whose owner is no longer an active admin is
 * replaced, and the replaced one is revoked, so starts never pile up live keys.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import { findApiKeyById, insertApiKey, revokeApiKey } from "./api_key_queries.ts";
import { createApiKeyAuthenticator, newApiKeySecret } from "./api_keys.ts";

export const LOCAL_WORKER_KEY_FILE = "local-worker-key.json";
export const LOCAL_WORKER_KEY_NAME = "local worker (deno task start)";
/** How long a new key lives; starts renew it once less than REUSE_MARGIN_MS is left. */
const LIFETIME_MS = 30 * 86_400_000;
const REUSE_MARGIN_MS = 7 * 86_400_000;

interface Stored {
  id: string;
  secret: string;
}

export interface LocalWorkerKey {
  secret: string;
  id: string;
  /** True when the stored key was reused; false when a new one was made. */
  reused: boolean;
}

export function localWorkerKeyPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}/${LOCAL_WORKER_KEY_FILE}`;
}

async function readStored(path: string): Promise<Stored | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text);
    if (typeof value?.id === "string" && typeof value?.secret === "string") {
      return { id: value.id, secret: value.secret };
    }
  } catch { /* replaced below */ }
  return undefined;
}

/** The local worker's key: the stored one while it works, otherwise a new one (and the old one revoked). */
export async function localWorkerKey(
  deps: { sql: Sql; clock: Clock; dataDir: string },
): Promise<LocalWorkerKey> {
  const { sql, clock, dataDir } = deps;
  const path = localWorkerKeyPath(dataDir);
  const stored = await readStored(path);
  if (stored) {
    const caller = await createApiKeyAuthenticator({ sql, clock })(stored.secret);
    const row = caller?.keyId === stored.id ? await findApiKeyById(sql, stored.id) : undefined;
    const [owner] = caller
      ? await sql<{ id: string }[]>`
        select id from users where id = ${caller.ownerId} and role = 'admin' and disabled_at is null`
      : [];
    const longEnough = row?.expires_at && row.expires_at.getTime() - clock.now() > REUSE_MARGIN_MS;
    if (caller?.scopes.includes("worker") && owner && longEnough) {
      return { secret: stored.secret, id: stored.id, reused: true };
    }
  }

  const [admin] = await sql<{ id: string }[]>`
    select id from users where role = 'admin' and disabled_at is null order by created_at limit 1`;
  if (!admin) throw new Error("no admin exists to own the local worker's key: run deno task admin:create");
  const { secret, prefix, hash } = await newApiKeySecret();
  const now = new Date(clock.now());
  const id = crypto.randomUUID();
  await insertApiKey(sql, {
    id,
    ownerId: admin.id,
    name: LOCAL_WORKER_KEY_NAME,
    scopes: ["worker"],
    prefix,
    secretHash: hash,
    now,
    expiresAt: new Date(now.getTime() + LIFETIME_MS),
  });
  await Deno.mkdir(dataDir, { recursive: true });
  // makeTempFile creates the file 0600; the rename makes it appear whole.
  const temp = await Deno.makeTempFile({ dir: dataDir, prefix: ".local-worker-key-" });
  await Deno.writeTextFile(temp, JSON.stringify({ id, secret } satisfies Stored, null, 2) + "\n");
  await Deno.chmod(temp, 0o600);
  await Deno.rename(temp, path);
  // Only once the new key is safely stored: a start that dies in between keeps a working key.
  if (stored && stored.id !== id && /^[0-9a-f-]{36}$/.test(stored.id)) {
    await revokeApiKey(sql, stored.id, now);
  }
  return { secret, id, reused: false };
}
