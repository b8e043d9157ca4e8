import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { sha256, sha256Sync } from "./secrets.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("sha256Sync gives the SHA-256 of the UTF-8 text, as WebCrypto does", async () => {
  // FIPS 180-2 test vector.
  assertEquals(hex(sha256Sync("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const text of ["", "tmk_" + "x".repeat(43), "é ✓ 𝄞"]) {
    const web = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    assertEquals(sha256Sync(text), web);
    assertEquals(await sha256(text), web);
  }
});

Deno.test("sha256Sync returns a 32-byte array of its own", () => {
  const a = sha256Sync("a");
  const b = sha256Sync("b");
  assertEquals([a.byteOffset, a.byteLength, a.buffer.byteLength], [0, 32, 32]);
  a.fill(0);
  assertEquals(hex(b), hex(sha256Sync("b")));
});
