import assert from "node:assert/strict";
import { createLogger, createMemoryLogger } from "./log.ts";

Deno.test("logs are one JSON object a line, with bound fields and errors made readable", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l), now: () => 0 }).child({
    worker_id: "w",
  });
  log.debug("hidden");
  log.warn("stream failed", { error: new TypeError("boom"), task_id: "t" });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "1970-01-01T00:00:00.000Z",
    level: "warn",
    msg: "stream failed",
    worker_id: "w",
    error: { name: "TypeError", message: "boom" },
    task_id: "t",
  });
});

Deno.test("the memory logger lets a test wait for a line", async () => {
  const log = createMemoryLogger();
  const second = log.waitFor("tick", 2);
  log.info("tick", { n: 1 });
  log.child({ c: true }).info("tick", { n: 2 });
  assert.equal((await second).n, 2);
  assert.equal((await log.waitFor((l) => l.c === true)).n, 2, "lines logged earlier count");
});
