/** Two server instances on one Postgres and Redis, and an admin to act on them. */
import { credentials } from "./raw_worker.ts";
import { startTestServer } from "./server.ts";

export async function twoInstances() {
  const a = await startTestServer({ redis: true });
  const b = await startTestServer({ redis: true, peerOf: a });
  const { admin } = await credentials(a);
  return {
    a,
    b,
    admin,
    async close() {
      await b.close();
      await a.close();
    },
  };
}
