/**
 * `tui/main.ts` as a process: stdin that is not a terminal gets a clear message and
 * status 2 (no stack trace); bad flags exit 2; --help exits 0.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../tui/main.ts", import.meta.url).pathname;

async function runTui(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  await out.stdin.close();
  const { code, stdout, stderr } = await out.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

Deno.test("tui/main.ts as a process", async (t) => {
  await t.step("stdin that is not a terminal: a clear message, status 2, no stack trace", async () => {
    const { code, stderr } = await runTui(["--url=http://127.0.0.1:1"]);
    assert.equal(code, 2);
    assert.match(stderr, /stdin is not a terminal: the operator TUI is interactive/);
    assert.doesNotMatch(stderr, /\bat .+:\d+:\d+/);
  });

  await t.step("a bad flag: status 2 and what to do", async () => {
    const { code, stderr } = await runTui(["--colour=yes"]);
    assert.equal(code, 2);
    assert.match(stderr, /unknown flag --colour\nrun with --help to see every flag/);
  });

  await t.step("--help: the usage, status 0", async () => {
    const { code, stdout } = await runTui(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /usage: deno task tui/);
    assert.match(stdout, /--read-only/);
  });
});
