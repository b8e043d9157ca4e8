import assert from "node:assert/strict";
import { claimedAtOfLeaseId, newLeaseId, queueOfLeaseId } from "./_lease_id.ts";

Deno.test("a lease id names its queue and the time of its claim", () => {
  const now = Date.UTC(2026, 11, 3, 18, 0, 0, 123);
  const id = newLeaseId("mail/out", now);
  assert.match(id, /^mail\/out\/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(queueOfLeaseId(id), "mail/out");
  assert.equal(claimedAtOfLeaseId(id), now);
  assert.notEqual(newLeaseId("q", now), newLeaseId("q", now), "fresh every time");
  assert.equal(
    claimedAtOfLeaseId(`q/${crypto.randomUUID()}`),
    undefined,
    "an id made before carries no time",
  );
});
