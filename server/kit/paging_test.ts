import assert from "node:assert/strict";
import { decodePageToken, encodePageToken, LIST_PAGE, pageOf, pageSize } from "./paging.ts";

const TAGS = { list: "tags", filters: { type: "tool" } };

Deno.test("page sizes default and cap", () => {
  assert.equal(pageSize(0), 50);
  assert.equal(pageSize(7, LIST_PAGE), 7);
  assert.equal(pageSize(5000), 1000);
  assert.equal(pageSize(0, { default: 1000, max: 10_000 }), 1000);
  assert.throws(() => pageSize(-1), /^.*page_size is negative/);
});

Deno.test("page tokens round-trip and belong to their list and their filters", () => {
  const token = encodePageToken(TAGS, ["café", 3]);
  assert.match(token, /^[A-Za-z0-9_-]+$/, "URL-safe");
  assert.deepEqual(decodePageToken(token, TAGS, ["text", "int"]), ["café", 3]);
  assert.equal(decodePageToken("", TAGS, ["text"]), undefined);
  assert.throws(
    () => decodePageToken(token, { ...TAGS, filters: { type: "topic" } }, ["text", "int"]),
    /other filters/,
  );
  assert.throws(
    () => decodePageToken(token, { ...TAGS, list: "queues" }, ["text", "int"]),
    /not a token this list/,
  );
  assert.throws(() => decodePageToken(token, TAGS, ["int", "int"]), /not a token this list returned/);
});

Deno.test("malformed and made-up tokens are InvalidArgument page_token, never an exception of another kind", () => {
  const made = (position: unknown[]) => encodePageToken(TAGS, position as (string | number)[]);
  const cases: [string, readonly ("int" | "digits" | "uuid" | "text")[]][] = [
    ["%%%", ["text"]],
    ["a", ["text"]],
    ["not base64!", ["text"]],
    [btoa("plain"), ["text"]],
    ["x".repeat(5000), ["text"]],
    [btoa("\u00ff\u00fe"), ["text"]],
    [made(["a\u0000"]), ["text"]],
    [made(["x".repeat(1025)]), ["text"]],
    [made(["12a"]), ["digits"]],
    [made(["not-a-uuid"]), ["uuid"]],
    [made([1.5]), ["int"]],
    [made([Number.MAX_SAFE_INTEGER + 2]), ["int"]],
    [made([]), ["text"]],
  ];
  for (const [token, shape] of cases) {
    assert.throws(
      () => decodePageToken(token, TAGS, shape),
      /^ConnectError: \[invalid_argument\] page_token/,
      token,
    );
  }
  assert.deepEqual(decodePageToken(made(["-12"]), TAGS, ["digits"]), ["-12"]);
  const id = crypto.randomUUID();
  assert.deepEqual(decodePageToken(made([id]), TAGS, ["uuid"]), [id]);
});

Deno.test("pageOf uses the extra row only to say there is more", () => {
  const query = { list: "numbers" };
  const more = pageOf([1, 2, 3], 2, query, (n) => [n]);
  assert.deepEqual(more.page, [1, 2]);
  assert.deepEqual(decodePageToken(more.nextPageToken, query, ["int"]), [2]);
  assert.deepEqual(pageOf([1, 2], 2, query, (n) => [n]), { page: [1, 2], nextPageToken: "" });
});
