import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MAX_RATE_PER_SECOND, rateFrom } from "./_convert.ts";

Deno.test("a campaign may ask for more than 1,000 mails a second, up to the bound, and no more", () => {
  assert.equal(rateFrom("rate_per_second", 0), 10);
  assert.equal(rateFrom("rate_per_second", 2000), 2000);
  assert.equal(rateFrom("rate_per_second", MAX_RATE_PER_SECOND), 10_000);
  assert.throws(
    () => rateFrom("rate_per_second", MAX_RATE_PER_SECOND + 1),
    (e) => e instanceof ConnectError && e.code === Code.InvalidArgument && /rate_per_second/.test(e.message),
  );
});
