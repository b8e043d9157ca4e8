/**
 * `deno task start` runs a worker beside the server on one machine; it needs an API
 * key of scope `worker`. A fresh one is made at each start, owned by the oldest
 * admin and expiring after a day, so no secret has to be written down anywhere.
 */
import type { Clock } from "../clock.ts";
import type { Sql } from "../db/postgres.ts";
import { insertApiKey } from "./api_key_queries.ts";
import { newApiKeySecret } from "./api_keys.ts";

export async function createLocalWorkerKey(deps: { sql: Sql; clock: Clock }): Promise<string> {
  const [admin] = await deps.sql<{ id: string }[]>`
    select id from users where role = 'admin' and disabled_at is null order by created_at limit 1`;
  if (!admin) throw new Error("no admin exists to own the local worker's key: run deno task admin:create");
  const { secret, prefix, hash } = await newApiKeySecret();
  const now = new Date(deps.clock.now());
  await insertApiKey(deps.sql, {
    id: crypto.randomUUID(),
    ownerId: admin.id,
    name: "local worker (deno task start)",
    scopes: ["worker"],
    prefix,
    secretHash: hash,
    now,
    expiresAt: new Date(now.getTime() + 86_400_000),
  });
  return secret;
}
