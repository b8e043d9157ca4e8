import assert from "node:assert/strict";
import { droppedNullSocketWrites, guardNullSocketWrites, isNullSocketWrite } from "./null_socket_guard.ts";
import { queueWriteOnClosedSocket } from "./testdata/postgres/src/connection.js";

Deno.test("the driver's write to a closed connection's null socket is dropped, not fatal", async () => {
  guardNullSocketWrites();
  const before = droppedNullSocketWrites();
  const seen = new Promise<void>((resolve) =>
    globalThis.addEventListener("error", () => resolve(), { once: true })
  );
  queueWriteOnClosedSocket();
  await seen;
  // The test runner would have failed this test on an uncaught error; it is counted instead.
  assert.equal(droppedNullSocketWrites(), before + 1);
});

Deno.test("only that error is recognised: other TypeErrors and other places stay fatal", () => {
  const inDriver = new TypeError("Cannot read properties of null (reading 'write')");
  inDriver.stack =
    `${inDriver.message}\n    at Immediate.nextWrite (file:///x/node_modules/postgres/src/connection.js:255:22)`;
  assert.equal(isNullSocketWrite(inDriver), true);
  const elsewhere = new TypeError(inDriver.message);
  elsewhere.stack = `${inDriver.message}\n    at nextWrite (file:///app/mine.js:1:1)`;
  assert.equal(isNullSocketWrite(elsewhere), false);
  const other = new TypeError("Cannot read properties of null (reading 'end')");
  other.stack = inDriver.stack.replace("'write'", "'end'");
  assert.equal(isNullSocketWrite(other), false);
  assert.equal(isNullSocketWrite(new Error(inDriver.message)), false);
});
