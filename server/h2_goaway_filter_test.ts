import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { GoawayFilter } from "./h2_goaway_filter.ts";
import { frame, goaway, PREFACE } from "../tests/_support/h2_raw_client.ts";

const settings = frame(0x4, 0, 0, new Uint8Array(6));
const headers = frame(0x1, 0x4, 1, Buffer.from("abc"));
const data = frame(0x0, 0x1, 1, new Uint8Array(40));
const ping = frame(0x6, 0, 0, new Uint8Array(8));

/** Feeds `bytes` in chunks of `size` and joins what comes out. */
function through(bytes: Buffer, size: number): { out: Buffer; dropped: number } {
  const filter = new GoawayFilter();
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(filter.feed(bytes.subarray(i, i + size)));
  return { out: Buffer.concat(parts), dropped: filter.dropped };
}

Deno.test("the GOAWAY filter passes every frame but GOAWAY through, however the bytes are chunked", () => {
  const input = Buffer.concat([PREFACE, settings, headers, goaway(7, 0), data, goaway(0, 2), ping]);
  const expected = Buffer.concat([PREFACE, settings, headers, data, ping]);
  for (const size of [1, 2, 5, 9, 10, 17, 24, 25, 64, input.length]) {
    const { out, dropped } = through(input, size);
    assert.deepEqual(out, expected, `chunks of ${size}`);
    assert.equal(dropped, 2, `chunks of ${size}`);
  }
});

Deno.test("the GOAWAY filter returns a chunk without GOAWAY as it is, not a copy", () => {
  const filter = new GoawayFilter();
  const chunk = Buffer.concat([PREFACE, settings, headers]);
  assert.equal(filter.feed(chunk), chunk);
});

Deno.test("the preface is skipped, not parsed as frames, even when a chunk ends inside it", () => {
  const { out } = through(Buffer.concat([PREFACE, goaway()]), 23);
  assert.deepEqual(out, PREFACE);
});
