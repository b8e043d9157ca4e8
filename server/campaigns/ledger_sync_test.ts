import assert from "node:assert/strict";
import type { Sql } from "../db/postgres.ts";
import { createTestDatabase } from "../db/testing.ts";
import { SENT_BATCH, SentBatcher } from "./ledger_sync.ts";

/** A campaign, its run and `n` claimed deliveries; their ids. */
async function claimedDeliveries(sql: Sql, n: number) {
  const now = new Date();
  const [template, campaign, run] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  await sql`insert into campaign_templates (id, name, name_key, subject, html_body, text_body, created_at, updated_at)
    values (${template}, 't', 't', 'Hi', '<p>Hi</p>', 'Hi', ${now}, ${now})`;
  await sql`insert into campaigns (id, name, template_id, audience, schedule, content, rate_per_second,
      max_concurrency, max_error_rate, state, created_by, created_at, updated_at)
    values (${campaign}, 'c', ${template}, '{}', '{}', '{}', 10, 10, 1, 'sending', 'test', ${now}, ${now})`;
  await sql`insert into campaign_runs (id, campaign_id, run_time, state, created_at)
    values (${run}, ${campaign}, ${now}, 'sending', ${now})`;
  const rows = await sql<{ id: string }[]>`
    insert into campaign_deliveries (id, run_id, campaign_id, email, email_key, state, task_id, message_id, updated_at)
    select gen_random_uuid(), ${run}, ${campaign}, 'm' || i || '@example.test', 'm' || i || '@example.test',
      'claimed', gen_random_uuid(), '<' || i || '@example.test>', ${now}
    from generate_series(1, ${n}) as i
    returning id`;
  return { run, ids: rows.map((r) => r.id) };
}

Deno.test("sent outcomes arriving together are written a batch a statement, each row once", async () => {
  const db = await createTestDatabase();
  try {
    const n = SENT_BATCH + 500;
    const { run, ids } = await claimedDeliveries(db.sql, n);
    let statements = 0;
    const counted = ((...args: Parameters<Sql>) => {
      statements++;
      return (db.sql as (...a: unknown[]) => unknown)(...args);
    }) as unknown as Sql;
    const batcher = new SentBatcher(counted);
    const at = new Date("2026-01-02T03:04:05Z");
    // Every mail of a window finishes at about the same time; one of them is told twice.
    const told = await Promise.all([
      ...ids.map((id, i) => batcher.add(id, i % 3 + 1, at)),
      batcher.add(ids[7], 1, at),
    ]);
    assert.equal(told.filter((r) => r === run).length, n, "each row moved once, and says so once");
    assert.equal(told.filter((r) => r === undefined).length, 1, "the repeat moved nothing");
    // Told in one turn: batches of SENT_BATCH from the first (not the first mail alone, then the rest).
    assert.equal(statements, Math.ceil(n / SENT_BATCH), `${statements} statements for ${n} mails`);
    const rows = await db.sql<{ state: string; attempts: number; sent_at: Date }[]>`
      select state, attempts, sent_at from campaign_deliveries where id = any(${ids}::uuid[])`;
    assert.ok(rows.every((r) => r.state === "sent" && r.sent_at.getTime() === at.getTime()));
    assert.equal(rows.reduce((sum, r) => sum + r.attempts, 0), ids.reduce((sum, _, i) => sum + i % 3 + 1, 0));
    // Told again later (a late event, the sweep): nothing moves.
    assert.equal(await batcher.add(ids[0], 1, at), undefined);
    await batcher.idle();
  } finally {
    await db.drop();
  }
});

Deno.test("a failed batch statement fails each of its callers, and the next batch still goes", async () => {
  const db = await createTestDatabase();
  try {
    const { run, ids } = await claimedDeliveries(db.sql, 3);
    const batcher = new SentBatcher(db.sql);
    const at = new Date();
    await assert.rejects(batcher.add("not-a-uuid", 1, at));
    assert.deepEqual(await Promise.all(ids.map((id) => batcher.add(id, 1, at))), [run, run, run]);
  } finally {
    await db.drop();
  }
});
