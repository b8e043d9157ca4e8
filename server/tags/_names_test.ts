import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";
import { nameKey, pickSlug, slugBase, validateId, validateName, validateText } from "./_names.ts";

Deno.test("name keys fold case, blanks and Unicode forms", () => {
  assert.equal(nameKey(" PYTHON "), "python");
  assert.equal(nameKey("Caf\u00e9"), nameKey("CAFE\u0301"));
  assert.equal(nameKey("\u212b"), nameKey("\u00e5"), "the Angstrom sign is NFC-equal to å");
  assert.notEqual(nameKey("Cafe"), nameKey("Café"), "accents still count");
});

Deno.test("names are 1 to 64 characters without control characters", () => {
  assert.deepEqual(validateName("name", "  Rust\u00a0"), { name: "Rust", key: "rust" });
  assert.equal(
    validateName("name", "\u{1F980}".repeat(64)).name.length,
    128,
    "64 characters, 128 UTF-16 units",
  );
  for (const bad of ["", " \t ", "a".repeat(65), "a\u0000b", "tab\there", "\u0085"]) {
    assert.throws(
      () => validateName("name", bad),
      (e: unknown) => e instanceof ConnectError && /^name /.test(e.rawMessage),
    );
  }
});

Deno.test("free text allows line breaks but no other control characters", () => {
  assert.equal(validateText("description", " two\nlines ", 10), "two\nlines");
  assert.throws(
    () => validateText("description", "bell\u0007", 100),
    /description contains a control character/,
  );
  assert.throws(() => validateText("reason", "xx", 1), /reason is 2 characters long/);
});

Deno.test("ids are UUIDs", () => {
  const id = crypto.randomUUID();
  assert.equal(validateId("id", ` ${id.toUpperCase()} `), id);
  assert.throws(() => validateId("tag_id", "12"), /tag_id "12" is not an id/);
  assert.throws(() => validateId("tag_id", ""), /tag_id is empty/);
});

Deno.test("slugs", () => {
  assert.equal(slugBase("Ruby on Rails"), "ruby-on-rails");
  assert.equal(slugBase("C++"), "c-plus-plus");
  assert.equal(slugBase(".NET"), "net");
  assert.equal(slugBase("Crème brûlée"), "creme-brulee");
  assert.equal(slugBase("日本語"), "tag");
  assert.equal(slugBase("a".repeat(80)).length, 60);
  assert.equal(pickSlug("go", []), "go");
  assert.equal(pickSlug("go", ["go", "go-2", "go-4"]), "go-3");
});
