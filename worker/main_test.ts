import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseFlags } from "./_flags.ts";
import { pooledSmtpUrl } from "./main.ts";
import { assign, startScriptedServer, welcome } from "./_scripted_server.ts";

const root = new URL("../", import.meta.url);

Deno.test("deno task worker with a bad flag exits 2 with a clear message", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "worker", "--queues=emails", "--concurency=4"],
    cwd: root,
    env: { TASKMESH_API_KEY: "k" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(stderr, /worker: unknown flag --concurency/);
  assert.match(stderr, /--help/);
});

Deno.test("the worker's flags", async (t) => {
  const env = { TASKMESH_API_KEY: "from-env" };
  await t.step("defaults come from the environment, then built-in values", () => {
    const parsed = parseFlags([], env);
    assert.deepEqual(parsed, {
      kind: "run",
      flags: {
        queues: ["default"],
        concurrency: 10,
        url: "http://127.0.0.1:8080",
        apiKey: "from-env",
        apiKeyFrom: "env",
        workerId: undefined,
        logLevel: "info",
      },
    });
    const fromEnv = parseFlags([], { ...env, TASKMESH_SERVER_URL: "https://tm.example.com" });
    assert.equal(fromEnv.kind === "run" && fromEnv.flags.url, "https://tm.example.com");
    const quiet = parseFlags([], { ...env, TASKMESH_LOG_LEVEL: "warn" });
    assert.equal(quiet.kind === "run" && quiet.flags.logLevel, "warn");
  });

  await t.step("flags win, with = or a separate value", () => {
    const parsed = parseFlags(
      [
        "--queues=emails,default",
        "--concurrency",
        "25",
        "--url=http://h:1",
        "--api-key=flag",
        "--worker-id=w",
      ],
      env,
    );
    assert.equal(parsed.kind, "run");
    if (parsed.kind !== "run") return;
    assert.deepEqual(parsed.flags.queues, ["emails", "default"]);
    assert.equal(parsed.flags.concurrency, 25);
    assert.equal(parsed.flags.url, "http://h:1");
    assert.equal(parsed.flags.apiKey, "flag");
    assert.equal(parsed.flags.workerId, "w");
  });

  await t.step("each mistake is named", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--bogus=1"], env, /unknown flag --bogus/],
      [["emails"], env, /unexpected argument "emails"/],
      [["--concurrency=0"], env, /--concurrency must be a whole number from 1 to 1000, not 0/],
      [["--concurrency=2.5"], env, /not 2.5/],
      [["--concurrency"], env, /--concurrency needs a value/],
      [["--queues=Emails"], env, /"Emails" is not a queue name/],
      [["--queues=a,,b"], env, /"" is not a queue name/],
      [["--queues=a,a"], env, /names a queue twice/],
      [["--url=ftp://x"], env, /not an http:\/\/ or https:\/\/ URL/],
      [["--log-level=loud"], env, /--log-level must be/],
      [[], {}, /no API key: set TASKMESH_API_KEY or TASKMESH_API_KEY_FILE, or pass --api-key-file/],
      [["--api-key=a", "--api-key-file=/k"], env, /--api-key and --api-key-file are both given/],
      [
        ["--api-key-file=/nonexistent/key"],
        env,
        /--api-key-file: cannot read "\/nonexistent\/key" \(no such file\)/,
      ],
      [[], { TASKMESH_API_KEY_FILE: "/nonexistent/key" }, /TASKMESH_API_KEY_FILE: cannot read/],
      [["--queues=a", "--queues=b"], env, /given twice/],
    ];
    for (const [args, vars, expected] of cases) {
      const parsed = parseFlags(args, vars);
      assert.equal(parsed.kind, "error", args.join(" "));
      if (parsed.kind === "error") assert.match(parsed.message, expected);
    }
    assert.deepEqual(parseFlags(["--help"], {}), { kind: "help" });
  });

  await t.step("the key comes from a file or the environment, so no command line shows it", () => {
    const files: Record<string, string> = { "/run/secrets/key": "tmk_file\n", "/empty": "  \n" };
    const read = (path: string) => {
      if (!(path in files)) throw new Deno.errors.NotFound(path);
      return files[path];
    };
    const key = (args: string[], vars: Record<string, string>) => {
      const parsed = parseFlags(args, vars, read);
      return parsed.kind === "run" ? [parsed.flags.apiKey, parsed.flags.apiKeyFrom] : parsed;
    };
    assert.deepEqual(key(["--api-key-file=/run/secrets/key"], env), ["tmk_file", "file"]);
    assert.deepEqual(key([], { ...env, TASKMESH_API_KEY_FILE: "/run/secrets/key" }), ["tmk_file", "file"]);
    assert.deepEqual(key([], env), ["from-env", "env"]);
    assert.deepEqual(key(["--api-key=tmk_flag"], env), ["tmk_flag", "flag"]);
    assert.deepEqual(key(["--api-key-file=/empty"], env), {
      kind: "error",
      message: '--api-key-file: "/empty" must hold the API key alone, on one line',
    });
  });
});

Deno.test("deno task worker reads its key from a file and never prints it; --api-key is warned about", async () => {
  const server = await startScriptedServer();
  const dir = await Deno.makeTempDir({ prefix: "taskmesh-worker-key-" });
  const secret = `tmk_${crypto.randomUUID().replaceAll("-", "")}`;
  await Deno.writeTextFile(`${dir}/key`, secret + "\n", { mode: 0o600 });
  const run = async (keyArg: string, id: string) => {
    const child = new Deno.Command(Deno.execPath(), {
      // Through deno task, which prints the command line it runs.
      args: ["task", "worker", `--url=${server.url}`, `--worker-id=${id}`, keyArg],
      cwd: root,
      env: { TASKMESH_API_KEY: "" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stream = await Promise.race([
      server.nextStream(),
      child.status.then(async ({ code }) => {
        const err = new TextDecoder().decode((await child.output()).stderr);
        throw new Error(`the worker exited with ${code} before connecting: ${err}`);
      }),
    ]);
    const authorization = stream.headers.get("authorization");
    await stream.nextOf("hello");
    // Refused: the worker exits 1 by itself, and deno task with it.
    stream.fail(new ConnectError("test: refused", Code.Unauthenticated));
    const out = await child.output();
    assert.equal(out.code, 1);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { authorization, text };
  };
  try {
    const fromFile = await run(`--api-key-file=${dir}/key`, "file-1");
    assert.equal(fromFile.authorization, `Bearer ${secret}`);
    assert.ok(!fromFile.text.includes(secret), "the key appears in the output");
    assert.ok(!fromFile.text.includes("--api-key puts the key on the command line"));

    const onLine = await run(`--api-key=${secret}`, "flag-1");
    assert.equal(onLine.authorization, `Bearer ${secret}`);
    assert.match(onLine.text, /--api-key puts the key on the command line/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the worker process drains on SIGTERM and stops at once on a second signal", async (t) => {
  const server = await startScriptedServer();
  const spawn = (id: string) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "worker/main.ts",
        `--url=${server.url}`,
        "--queues=default",
        `--worker-id=${id}`,
        "--log-level=debug",
      ],
      cwd: root,
      env: { TASKMESH_API_KEY: "k" },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  // Reads the process's JSON log lines until one has this msg.
  const logLines = (child: Deno.ChildProcess) => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
    let buffer = "";
    return async (msg: string) => {
      while (true) {
        const newline = buffer.indexOf("\n");
        if (newline >= 0) {
          const line = JSON.parse(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
          if (line.msg === msg) return line;
          continue;
        }
        const chunk = await lines.next();
        if (chunk.done) throw new Error(`the process ended before logging ${msg}`);
        buffer += chunk.value;
      }
    };
  };
  try {
    await t.step("SIGTERM: the running task finishes and reports, then the process exits 0", async () => {
      const child = spawn("proc-1");
      const waitForLog = logLines(child);
      const stream = await server.nextStream();
      const hello = await stream.nextOf("hello");
      assert.equal(hello.workerId, "proc-1");
      assert.deepEqual(hello.taskTypes.toSorted(), ["email.send", "noop", "sleep", "webhook.post"]);
      stream.send(welcome());
      await waitForLog("connected");
      stream.send(assign({ taskId: "t1", type: "sleep", payload: { ms: 300 } }));
      await waitForLog("task started");
      child.kill("SIGTERM");
      await waitForLog("draining: finishing running tasks (send the signal again to stop at once)");
      const result = await stream.nextOf("result");
      assert.equal(result.taskId, "t1");
      assert.deepEqual(JSON.parse(new TextDecoder().decode(result.outcome.value as Uint8Array)), {
        slept: 300,
      });
      await stream.requestsDone;
      stream.end();
      const status = await child.status;
      await child.stdout.cancel().catch(() => {});
      assert.equal(status.code, 0);
    });

    await t.step("a second signal stops at once, abandoning the running task", async () => {
      const child = spawn("proc-2");
      const waitForLog = logLines(child);
      const stream = await server.nextStream();
      await stream.nextOf("hello");
      stream.send(welcome(60_000, 120_000));
      await waitForLog("connected");
      stream.send(assign({ taskId: "t2", type: "sleep", payload: { ms: 3_600_000 } }));
      await waitForLog("task started");
      child.kill("SIGINT");
      await waitForLog("draining: finishing running tasks (send the signal again to stop at once)");
      child.kill("SIGINT");
      const status = await child.status;
      await child.stdout.cancel().catch(() => {});
      assert.equal(status.code, 0);
      await stream.requestsDone;
      const left: unknown[] = [];
      while (true) {
        const request = await stream.next().catch(() => undefined);
        if (!request) break;
        left.push(request.message.case);
      }
      assert.ok(!left.includes("result"), "an abandoned task reports nothing");
    });
  } finally {
    await server.close();
  }
});

Deno.test("the worker pools SMTP connections unless SMTP_URL says pool= itself", () => {
  assert.equal(pooledSmtpUrl(undefined, 10), undefined);
  const pooled = new URL(pooledSmtpUrl("smtp://user:pw@mail.example.test:2525", 200)!);
  assert.equal(pooled.searchParams.get("pool"), "true");
  assert.equal(pooled.searchParams.get("maxConnections"), "50");
  assert.equal(pooled.username, "user");
  assert.equal(pooled.port, "2525");
  assert.equal(pooled.searchParams.get("maxMessages"), "1000");
  assert.equal(
    new URL(pooledSmtpUrl("smtp://mail.example.test?maxMessages=20", 4)!).searchParams.get("maxMessages"),
    "20",
  );
  assert.equal(
    new URL(pooledSmtpUrl("smtp://mail.example.test", 4)!).searchParams.get("maxConnections"),
    "4",
  );
  assert.equal(
    pooledSmtpUrl("smtp://mail.example.test?pool=false", 4),
    "smtp://mail.example.test?pool=false",
  );
});
