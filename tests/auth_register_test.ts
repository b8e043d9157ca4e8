/**
 * Register is no enumeration oracle: a taken email gets the answer a new one gets, in
 * about the same time, creates nothing, and mails the address's owner instead.
 */
import assert from "node:assert/strict";
import { toJson } from "@bufbuild/protobuf";
import { RegisterResponseSchema } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { as, createAuthTestbed } from "../server/auth/testing.ts";

const PASSWORD = "a perfectly fine passphrase";

/** The response with what differs between any two registrations (the id, the clock) taken out. */
function shape(res: Parameters<typeof toJson<typeof RegisterResponseSchema>>[1]) {
  const json = toJson(RegisterResponseSchema, res) as { user: Record<string, unknown> };
  assert.match(String(json.user.id), /^[0-9a-f-]{36}$/);
  return { ...json.user, id: "<uuid>" };
}

Deno.test("no enumeration: Register answers a taken email as a new one, creates nothing and mails the owner", async () => {
  const tb = await createAuthTestbed();
  try {
    const owner = await tb.createUser("operator", { email: "taken@example.com" });
    await tb.runtime.settled();
    const before = tb.mails.length;

    const fresh = await tb.client.register(
      { email: "Fresh@Example.com", password: PASSWORD, displayName: "Someone" },
      as(undefined, "10.0.0.1"),
    );
    const taken = await tb.client.register(
      { email: "Taken@Example.com", password: PASSWORD, displayName: "Someone" },
      as(undefined, "10.0.0.2"),
    );
    assert.deepEqual(
      shape(taken),
      { ...shape(fresh), email: "Taken@Example.com" },
      "same fields, same values but the email",
    );
    assert.notEqual(taken.user?.id, owner.id, "the owner's id is not revealed");

    // Nothing changed for the owner: same password, same role, one row.
    const rows = await tb.db.sql`select id, role from users where lower(email) = 'taken@example.com'`;
    assert.deepEqual(rows.map((r) => [r.id, r.role]), [[owner.id, "operator"]]);
    await tb.login(owner.email, owner.password);

    await tb.runtime.settled();
    const mails = tb.mails.slice(before);
    assert.deepEqual(mails.map((m) => m.to).sort(), ["Fresh@Example.com", "taken@example.com"]);
    const notice = mails.find((m) => m.to === "taken@example.com")!;
    assert.match(notice.subject, /tried to sign up/);
    assert.match(notice.text, /If it was you, log in instead: http:\/\/taskmesh\.test\/login/);
    assert.match(notice.text, /Reset it: http:\/\/taskmesh\.test\/reset-password/);
    assert.doesNotMatch(notice.text, /token|code:/i, "no secret in the notice");

    const audit = await tb.db
      .sql`select action from audit_log where action like 'auth.register%' order by id`;
    assert.deepEqual(audit.map((r) => r.action), ["auth.register", "auth.register.existing_email"]);
  } finally {
    await tb.close();
  }
});

Deno.test("no enumeration: a taken email costs Register the same argon2 work as a new one", async () => {
  const tb = await createAuthTestbed();
  try {
    await tb.createUser("member", { email: "taken@example.com" });
    let n = 0;
    const time = async (email: () => string) => {
      const started = performance.now();
      for (let i = 0; i < 3; i++) {
        await tb.client.register(
          { email: email(), password: PASSWORD, displayName: "X" },
          as(undefined, `10.1.0.${++n}`),
        );
      }
      return performance.now() - started;
    };
    const fresh = await time(() => `new${n}@example.com`);
    const taken = await time(() => "taken@example.com");
    // Without the hash a taken email would answer in a fraction of the time.
    assert.ok(taken > fresh * 0.3 && taken < fresh * 3.3, `fresh ${fresh} ms, taken ${taken} ms`);
  } finally {
    await tb.close();
  }
});
