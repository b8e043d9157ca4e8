import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { TaskSchema, TaskState } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import {
  formatTaskQuery,
  matchesServerPart,
  matchesWords,
  parseTaskQuery,
  serverPartChanged,
} from "./task_filter.ts";

Deno.test("the / filter: fields for the server, words for the client", () => {
  const parsed = parseTaskQuery("  queue:emails STATE:Dead type:email.send  Ada  bounce ");
  assert.deepEqual(parsed, {
    ok: true,
    query: { queue: "emails", state: TaskState.DEAD, type: "email.send", words: ["ada", "bounce"] },
  });
  assert.deepEqual(parseTaskQuery("q:x s:running t:y"), {
    ok: true,
    query: { queue: "x", state: TaskState.RUNNING, type: "y", words: [] },
  });
  assert.equal(
    formatTaskQuery(parsed.ok ? parsed.query : { words: [] }),
    "queue:emails state:dead type:email.send ada bounce",
  );
  // A colon in a word that is not a field is just a word.
  assert.deepEqual(parseTaskQuery("http://x"), { ok: true, query: { words: ["http://x"] } });
  assert.deepEqual(parseTaskQuery("state:zombie"), {
    ok: false,
    error: "no state zombie: one of waiting, scheduled, queued, running, succeeded, failed, dead, cancelled",
  });
  assert.equal(parseTaskQuery("queue:").ok, false);
});

Deno.test("matching: server part and words (id, type, labels, payload)", () => {
  const task = create(TaskSchema, {
    id: "3f9a0000-0000-4000-8000-000000000000",
    state: TaskState.QUEUED,
    spec: {
      queue: "emails",
      type: "email.send",
      labels: { tenant: "acme" },
      payload: new TextEncoder().encode('{"to":"ada@example.com"}'),
    },
  });
  assert.ok(matchesServerPart(task, { queue: "emails", state: TaskState.QUEUED, words: [] }));
  assert.ok(!matchesServerPart(task, { queue: "emails", type: "sms.send", words: [] }));
  assert.ok(matchesWords(task, ["3f9a", "tenant=acme", "ada@example"]));
  assert.ok(!matchesWords(task, ["bob"]));
  assert.ok(serverPartChanged({ queue: "a", words: [] }, { queue: "b", words: [] }));
  assert.ok(!serverPartChanged({ queue: "a", words: ["x"] }, { queue: "a", words: ["y"] }));
});
