import assert from "node:assert/strict";
import { migrate } from "../db/migrate.ts";
import { createEmptyTestSchema, dropTestSchema } from "../db/testing.ts";
import { sealedIdOf, sealedReference } from "./sealed_payloads.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("a sealed reference is recognised, and nothing else is", () => {
  const id = crypto.randomUUID();
  assert.equal(sealedIdOf(sealedReference(id)), id);
  for (
    const other of [
      '{"to":"a@example.com"}',
      '{"$sealed":"not-an-id"}',
      '{"$sealed":5}',
      '{"$sealed":"' + id + '"',
      "",
    ]
  ) assert.equal(sealedIdOf(encoder.encode(other)), undefined, other);
});

Deno.test("migration 0005 seals the pending auth mails and strips the finished ones of their tokens", async () => {
  const { sql, schema } = await createEmptyTestSchema();
  const dir = await Deno.makeTempDir({ prefix: "taskmesh_0005_" });
  try {
    const all = new URL("../db/migrations/", import.meta.url);
    for await (const entry of Deno.readDir(all)) {
      if (entry.name < "0005") await Deno.copyFile(new URL(entry.name, all), `${dir}/${entry.name}`);
    }
    await migrate(sql, { dir: new URL(`file://${dir}/`) });
    const token = "tok_" + crypto.randomUUID().replaceAll("-", "");
    const mail = JSON.stringify({ to: "a@example.com", subject: "Reset", text: `?token=${token}` });
    const rows = [
      ["queued", "email.send", { source: "auth" }],
      ["succeeded", "email.send", { source: "auth" }],
      ["dead", "email.send", { source: "auth" }],
      ["queued", "email.send", { source: "campaign" }],
      ["queued", "other", { source: "auth" }],
    ] as const;
    const ids: string[] = [];
    await sql`insert into queues (name, created_at, updated_at) values ('emails', now(), now())`;
    for (const [state, type, labels] of rows) {
      const id = crypto.randomUUID();
      ids.push(id);
      await sql`
        insert into tasks (id, queue, type, payload, priority, state, max_attempts, backoff_initial_ms,
          backoff_max_ms, backoff_multiplier, timeout_ms, labels, run_at, created_at, updated_at)
        values (${id}, 'emails', ${type}, ${encoder.encode(mail)}, 0, ${state}, 5, 1000, 1000, 2, 1000,
          ${sql.json(labels)}, now(), now(), now())`;
    }
    await Deno.copyFile(
      new URL("0005_no_secrets_in_tasks.sql", all),
      `${dir}/0005_no_secrets_in_tasks.sql`,
    );
    await migrate(sql, { dir: new URL(`file://${dir}/`) });

    const payloads = new Map(
      (await sql<{ id: string; payload: Uint8Array }[]>`select id, payload from tasks`).map((r) => [
        r.id,
        decoder.decode(r.payload),
      ]),
    );
    const [pending, succeeded, dead, campaign, other] = ids.map((id) => payloads.get(id)!);
    const sealedId = sealedIdOf(encoder.encode(pending));
    assert.ok(sealedId, `the pending auth mail is sealed: ${pending}`);
    const [sealed] = await sql<
      { body: Uint8Array }[]
    >`select body from sealed_payloads where id = ${sealedId}`;
    assert.equal(decoder.decode(sealed.body), mail, "the sealed mail is the mail as it was");
    for (const done of [succeeded, dead]) {
      assert.ok(!done.includes(token), "a finished auth mail keeps no token");
      assert.match(done, /\$redacted/);
    }
    assert.equal(campaign, mail, "mails not from auth are not touched");
    assert.equal(other, mail, "other task types are not touched");
  } finally {
    await sql.end();
    await dropTestSchema(schema);
    await Deno.remove(dir, { recursive: true });
  }
});
