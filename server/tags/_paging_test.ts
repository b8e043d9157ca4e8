import assert from "node:assert/strict";
import { decodePageToken, encodePageToken, LIST_PAGE, pageOf, pageSize } from "./_paging.ts";

Deno.test("page sizes default and cap", () => {
  assert.equal(pageSize("page_size", 0, LIST_PAGE), 50);
  assert.equal(pageSize("page_size", 7, LIST_PAGE), 7);
  assert.equal(pageSize("page_size", 5000, LIST_PAGE), 1000);
  assert.throws(() => pageSize("page_size", -1, LIST_PAGE), /page_size is negative/);
});

Deno.test("page tokens round-trip and belong to their query", () => {
  const token = encodePageToken({ type: "tool" }, ["café", 3]);
  assert.match(token, /^[A-Za-z0-9_-]+$/, "URL-safe");
  assert.deepEqual(decodePageToken(token, { type: "tool" }, ["string", "number"]), ["café", 3]);
  assert.equal(decodePageToken("", { type: "tool" }, ["string"]), undefined);
  assert.throws(() => decodePageToken(token, { type: "topic" }, ["string", "number"]), /other filters/);
  assert.throws(
    () => decodePageToken(token, { type: "tool" }, ["number", "number"]),
    /not a token this list returned/,
  );
  assert.throws(() => decodePageToken("%%%", {}, ["string"]), /not a token this list returned/);
});

Deno.test("pageOf uses the extra row only to say there is more", () => {
  const more = pageOf([1, 2, 3], 2, {}, (n) => [n]);
  assert.deepEqual(more.page, [1, 2]);
  assert.deepEqual(decodePageToken(more.nextPageToken, {}, ["number"]), [2]);
  assert.deepEqual(pageOf([1, 2], 2, {}, (n) => [n]), { page: [1, 2], nextPageToken: "" });
});
