import assert from "node:assert/strict";
import { DEFAULT_SERVER_URL, parseFlags } from "./_flags.ts";

Deno.test("flags: defaults, environment, and every flag", () => {
  assert.deepEqual(parseFlags([], {}), {
    kind: "run",
    flags: { url: DEFAULT_SERVER_URL, email: undefined, apiKey: undefined, readOnly: false },
  });
  assert.deepEqual(parseFlags([], { TASKMESH_SERVER_URL: "http://tm:9000/", TASKMESH_API_KEY: "tmk_x" }), {
    kind: "run",
    flags: { url: "http://tm:9000", email: undefined, apiKey: "tmk_x", readOnly: false },
  });
  assert.deepEqual(parseFlags(["--url", "https://a.example", "--email=ops@example.com", "--read-only"], {}), {
    kind: "run",
    flags: { url: "https://a.example", email: "ops@example.com", apiKey: undefined, readOnly: true },
  });
  // An --email wins over a key in the environment: the operator asked to sign in as someone.
  const withEmail = parseFlags(["--email=a@b.c"], { TASKMESH_API_KEY: "tmk_x" });
  assert.equal(withEmail.kind === "run" && withEmail.flags.apiKey, undefined);
});

Deno.test("flags: mistakes are errors that say what to do", () => {
  const error = (args: string[]) => {
    const r = parseFlags(args, {});
    return r.kind === "error" ? r.message : r.kind;
  };
  assert.match(error(["--nope"]), /unknown flag --nope/);
  assert.match(error(["--url"]), /--url needs a value/);
  assert.match(error(["--url=ftp://x"]), /must start with http/);
  assert.match(error(["--url=::"]), /is not a URL/);
  assert.match(error(["--read-only=no"]), /takes no value/);
  assert.match(error(["--email=a@b.c", "--api-key=k"]), /sign in one way/);
  assert.match(error(["stray"]), /unexpected argument/);
  assert.equal(parseFlags(["--help"], {}).kind, "help");
});
