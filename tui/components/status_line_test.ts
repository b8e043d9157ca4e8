import assert from "node:assert/strict";
import { connectionSummary } from "./status_line.tsx";

Deno.test("the status line's sentence: the worst stream decides", () => {
  const now = 1_000_000;
  assert.deepEqual(
    connectionSummary([["queues", { kind: "live", since: 1 }], ["tasks", { kind: "stopped" }]], now),
    {
      text: "● connected",
      color: "green",
    },
  );
  assert.deepEqual(
    connectionSummary([
      ["queues", { kind: "live", since: 1 }],
      ["workers", {
        kind: "retrying",
        attempt: 3,
        error: "unavailable: connect ECONNREFUSED",
        retryAt: now + 2500,
      }],
    ], now),
    {
      text: "✖ connection lost — reconnecting, attempt 3, next in 2s",
      color: "red",
      detail: "unavailable: connect ECONNREFUSED",
    },
  );
  assert.equal(
    connectionSummary([["queues", { kind: "connecting", attempt: 1 }]], now).text,
    "◌ connecting…",
  );
  assert.equal(
    connectionSummary([["queues", { kind: "denied", error: "permission denied: viewers and above" }]], now)
      .text,
    "⊘ not allowed to watch queues (permission denied: viewers and above)",
  );
});
