import assert from "node:assert/strict";
import { PermanentError } from "./errors.ts";
import { encodeOutput, json } from "./payload.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("json() decodes a JSON payload and fails for good on anything else", () => {
  assert.deepEqual(json(bytes('{"to":"a@example.com"}')), { to: "a@example.com" });
  for (const bad of ["", "{", "not json"]) {
    assert.throws(
      () => json(bytes(bad)),
      (e: unknown) => e instanceof PermanentError && e.code === "bad_payload",
    );
  }
});

Deno.test("a handler's return value becomes output bytes", () => {
  assert.deepEqual(encodeOutput(new Uint8Array([7])), new Uint8Array([7]));
  assert.deepEqual(encodeOutput(undefined), new Uint8Array());
  assert.deepEqual(encodeOutput("ok"), bytes('"ok"'));
  assert.deepEqual(encodeOutput({ n: 1 }), bytes('{"n":1}'));
  assert.deepEqual(encodeOutput(null), bytes("null"));
  assert.throws(() => encodeOutput({ big: 1n }), TypeError);
});
