import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";
import {
  foldCase,
  nameKey,
  normaliseSlug,
  pickSlug,
  slugBase,
  validateId,
  validateName,
  validateText,
} from "./_names.ts";

Deno.test("name keys fold case, blanks and Unicode forms", () => {
  assert.equal(nameKey(" PYTHON "), "python");
  assert.equal(nameKey("Caf\u00e9"), nameKey("CAFE\u0301"));
  assert.equal(nameKey("\u212b"), nameKey("\u00e5"), "the Angstrom sign is NFC-equal to å");
  assert.notEqual(nameKey("Cafe"), nameKey("Café"), "accents still count");
});

Deno.test("name keys fold case fully, not just lower-case", () => {
  const same: [string, string][] = [
    ["Straße", "STRASSE"],
    ["\u1e9e", "ss"], // capital sharp s
    ["İstanbul", "istanbul"],
    ["ISTANBUL", "ıstanbul"],
    ["ΟΔΟΣ", "οδος"], // final sigma
    ["\ufb01le", "FILE"], // the fi ligature
    ["\u212aelvin", "kelvin"], // the Kelvin sign
    ["\uff21\uff22", "ab"], // full-width
    ["Stra\u00adße", "strasse"], // a soft hyphen is ignorable
    ["\u01c5", "\u01c4"], // title-case Dž
  ];
  for (const [a, b] of same) assert.equal(nameKey(a), nameKey(b), `${a} and ${b}`);
  assert.notEqual(nameKey("Straße"), nameKey("Strase"));
});

Deno.test("case folding is idempotent on every code point", () => {
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const once = foldCase(String.fromCodePoint(cp));
    if (foldCase(once) !== once) assert.fail(`U+${cp.toString(16)} folds to ${once}, which folds further`);
  }
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
  assert.equal(slugBase("日本語"), "日本語");
  assert.equal(slugBase("Straße"), "strasse");
  assert.equal(slugBase("İstanbul"), "istanbul");
  assert.equal(slugBase("Ελληνικά Γλώσσα"), "ελληνικά-γλώσσα", "Greek keeps its accents");
  assert.equal(slugBase("हिन्दी"), "हिन्दी", "Devanagari keeps its vowel signs");
  assert.equal(slugBase("한국어 문법"), "한국어-문법");
  assert.equal(slugBase("C++ / 日本"), "c-plus-plus-日本");
  assert.equal(slugBase("\u{1F980}"), "tag", "no letter or digit at all");
  assert.equal(slugBase("a".repeat(80)).length, 60);
  assert.equal([...slugBase("\u{20000}".repeat(80))].length, 60, "cut by characters, not UTF-16 units");
  assert.equal(normaliseSlug(" STRASSE "), "strasse");
  assert.equal(normaliseSlug("日本語"), "日本語");
  assert.equal(pickSlug("go", []), "go");
  assert.equal(pickSlug("go", ["go", "go-2", "go-4"]), "go-3");
});
