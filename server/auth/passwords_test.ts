import assert from "node:assert/strict";
import { hash } from "@node-rs/argon2";
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from "./passwords.ts";

Deno.test("passwords are hashed with argon2id m=19456 t=2 p=1 and verified", async () => {
  const stored = await hashPassword("a perfectly fine passphrase");
  assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await verifyPassword(stored, "a perfectly fine passphrase"), true);
  assert.equal(await verifyPassword(stored, "a perfectly fine passphrasE"), false);
  assert.equal(await verifyPassword("not a hash", "anything"), false);
  assert.equal(needsRehash(stored), false);
  assert.equal(
    needsRehash(await hash("x", { algorithm: 2, memoryCost: 19456, timeCost: 3, parallelism: 1 })),
    true,
  );
  assert.equal(
    needsRehash(await hash("x", { algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 })),
    true,
  );
  assert.equal(needsRehash("garbage"), true);
});

Deno.test("password rules: length, not the email, not a common password", () => {
  assert.match(passwordProblem("elevenchars", "a@example.com")!, /at least 12/);
  assert.equal(passwordProblem("twelve chars", "a@example.com"), undefined);
  // Length counts characters, not UTF-16 units.
  assert.match(passwordProblem("🔒".repeat(11), "a@example.com")!, /at least 12/);
  assert.match(passwordProblem("x".repeat(129), "a@example.com")!, /at most 128/);
  assert.equal(passwordProblem("x".repeat(128), "a@example.com"), undefined);
  assert.match(passwordProblem("Long.Name@Example.com", " long.name@example.com")!, /email/);
  for (const common of ["Password1234", "QWERTYUIOP123", "iloveyou1234", "correcthorsebatterystaple"]) {
    assert.match(passwordProblem(common, "a@example.com")!, /most common/, common);
  }
});

Deno.test("the shipped common-password list has a few hundred entries, many long enough to matter", async () => {
  const lines = (await Deno.readTextFile(new URL("./common_passwords.txt", import.meta.url))).split("\n")
    .filter((l) => l && !l.startsWith("#"));
  assert.ok(lines.length >= 300, `${lines.length} entries`);
  assert.ok(lines.filter((l) => l.length >= 12).length >= 200);
  assert.ok(lines.every((l) => l === l.toLowerCase().trim()));
});
