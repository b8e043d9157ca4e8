/**
 * Who may import whom, as docs/ARCHITECTURE.md's layout table says: tui/ and worker/
 * never import server/, mail/ imports neither server/ nor worker/, and gen/ imports
 * nothing outside gen/ but npm packages; in server/, only the task engine's files reach
 * its store, broker and worker registry, and auth/ never imports tasks/. Every .ts and .tsx file of those folders is
 * read, its import specifiers are found with a regular expression and resolved, and
 * each offending file and specifier is listed.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** `import … from "x"`, `export … from "x"` (across lines), `import "x"`, `import("x")`. */
const SPECIFIERS = [
  /^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])(?<spec>[^"'\n]+)\1/gm,
  /^\s*import\s*(["'])(?<spec>[^"'\n]+)\1/gm,
  /\bimport\(\s*(["'`])(?<spec>[^"'`\n]+)\1\s*[,)]/g,
];

function specifiersOf(source: string): string[] {
  const found: { at: number; spec: string }[] = [];
  for (const pattern of SPECIFIERS) {
    for (const m of source.matchAll(pattern)) found.push({ at: m.index, spec: m.groups!.spec });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.spec);
}

const importMap: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
).imports;

/** Where a specifier leads: a path from the repository root, or a package. */
type Target =
  | { kind: "path"; path: string }
  | { kind: "npm"; name: string }
  | { kind: "other"; spec: string };

function resolve(spec: string, file: URL): Target {
  if (spec.startsWith("npm:")) return { kind: "npm", name: spec };
  if (spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/") || spec.startsWith("file:")) {
    const url = new URL(spec, file);
    return url.href.startsWith(ROOT.href)
      ? { kind: "path", path: url.href.slice(ROOT.href.length) }
      : { kind: "other", spec };
  }
  // A bare specifier goes through deno.json's import map (longest prefix entry wins).
  const key = Object.keys(importMap)
    .filter((k) => k === spec || (k.endsWith("/") && spec.startsWith(k)))
    .sort((a, b) => b.length - a.length)[0];
  if (key === undefined) return { kind: "other", spec };
  const mapped = importMap[key] + spec.slice(key.length);
  return mapped.startsWith("npm:") ? { kind: "npm", name: mapped } : resolve(mapped, ROOT);
}

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sourceFiles(url);
    else if (/\.tsx?$/.test(entry.name)) yield url;
  }
}

interface Scan {
  files: number;
  specifiers: number;
  offences: string[];
}

/** Every file under `folder`, each specifier checked by `allowed`. */
async function scan(folder: string, allowed: (target: Target) => boolean): Promise<Scan> {
  const result: Scan = { files: 0, specifiers: 0, offences: [] };
  for await (const file of sourceFiles(new URL(folder, ROOT))) {
    result.files++;
    for (const spec of specifiersOf(await Deno.readTextFile(file))) {
      result.specifiers++;
      if (!allowed(resolve(spec, file))) {
        result.offences.push(`${file.href.slice(ROOT.href.length)} imports "${spec}"`);
      }
    }
  }
  return result;
}

const under = (target: Target, ...folders: string[]) =>
  target.kind === "path" && folders.some((f) => target.path.startsWith(f));

const RULES: { folder: string; rule: string; minFiles: number; allowed: (t: Target) => boolean }[] = [
  { folder: "tui/", rule: "never server/", minFiles: 40, allowed: (t) => !under(t, "server/") },
  { folder: "worker/", rule: "never server/", minFiles: 20, allowed: (t) => !under(t, "server/") },
  {
    folder: "mail/",
    rule: "never server/ or worker/",
    minFiles: 4,
    allowed: (t) => !under(t, "server/", "worker/"),
  },
  {
    folder: "web/",
    rule: "only web/, gen/ and npm packages",
    minFiles: 15,
    allowed: (t) => t.kind === "npm" || under(t, "web/", "gen/"),
  },
  {
    folder: "gen/",
    rule: "only gen/ and npm packages",
    minFiles: 6,
    allowed: (t) => t.kind === "npm" || under(t, "gen/"),
  },
];

/**
 * The task engine: the only files that may import the store (pg_store.ts, its query
 * files and _pipelined_tx.ts), the broker and the worker registry (server/broker/). The engine is runtime.ts
 * and its loops; setup.ts builds it; model.ts is the store's seam and queue_limits.ts the
 * rebuild's limits. Tests (and bench/) may reach past it; nothing else in server/ may.
 */
const ENGINE_FILES = [
  "runtime.ts",
  "_engine_parts.ts",
  "supervisor.ts",
  "promoter.ts",
  "lease_reaper.ts",
  "lease_sweeper.ts",
  "registry_writer.ts",
  "worker_directory.ts",
  "_worker_leases.ts",
  "setup.ts",
  "model.ts",
  "queue_limits.ts",
].map((f) => `server/tasks/${f}`);

/** The store's own files: the engine's too, and only the engine's. */
const isStoreModule = (path: string) =>
  /^server\/tasks\/(pg_store|_pg_enqueue|_pipelined_tx|[a-z_]+_queries)\.ts$/.test(path);

const isTestFile = (path: string) => /(_test|_testing)\.ts$/.test(path);

const engineRule = (file: string, t: Target) =>
  ENGINE_FILES.includes(file) || isStoreModule(file) || file.startsWith("server/broker/") ||
  isTestFile(file) ||
  !(t.kind === "path" && (t.path.startsWith("server/broker/") || isStoreModule(t.path)));

/** Like scan, with the importing file's path given to the rule. */
async function scanFrom(folder: string, allowed: (file: string, t: Target) => boolean): Promise<Scan> {
  const result: Scan = { files: 0, specifiers: 0, offences: [] };
  for await (const file of sourceFiles(new URL(folder, ROOT))) {
    const path = file.href.slice(ROOT.href.length);
    result.files++;
    for (const spec of specifiersOf(await Deno.readTextFile(file))) {
      result.specifiers++;
      if (!allowed(path, resolve(spec, file))) result.offences.push(`${path} imports "${spec}"`);
    }
  }
  return result;
}

Deno.test("only the task engine imports the task store, the broker and the worker registry", async () => {
  const result = await scanFrom("server/", engineRule);
  assert.ok(result.files >= 150, `only ${result.files} files found under server/`);
  assert.deepEqual(
    result.offences,
    [],
    `reach task state through the engine (runtime.ts):\n${result.offences.join("\n")}`,
  );
});

Deno.test("the engine rule catches a service that reaches past the engine", () => {
  const broker = resolve("../broker/redis_broker.ts", new URL("server/tasks/service.ts", ROOT));
  const store = resolve("./pg_store.ts", new URL("server/tasks/service.ts", ROOT));
  assert.equal(engineRule("server/tasks/service.ts", broker), false);
  assert.equal(engineRule("server/tasks/worker_session.ts", store), false);
  assert.equal(
    engineRule("server/start.ts", resolve("./tasks/task_queries.ts", new URL("server/start.ts", ROOT))),
    false,
  );
  assert.equal(engineRule("server/tasks/promoter.ts", broker), true);
  assert.equal(engineRule("server/tasks/runtime_test.ts", broker), true);
});

Deno.test("only tests use the engine's test hatch (internalsForTests)", async () => {
  const offenders: string[] = [];
  for await (const file of sourceFiles(new URL("server/", ROOT))) {
    const path = file.href.slice(ROOT.href.length);
    if (path === "server/tasks/runtime.ts" || isTestFile(path)) continue;
    if ((await Deno.readTextFile(file)).includes("internalsForTests")) offenders.push(path);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("server/auth/ never imports server/tasks/ (its mails go through the MailQueue port)", async () => {
  const result = await scanFrom("server/auth/", (file, t) => isTestFile(file) || !under(t, "server/tasks/"));
  assert.ok(result.files >= 20, `only ${result.files} files found under server/auth/`);
  assert.deepEqual(result.offences, [], result.offences.join("\n"));
});

Deno.test("the specifier scan finds every form of import", () => {
  const source = [
    `import assert from "node:assert/strict";`,
    `import {`,
    `  type Task,`,
    `  TaskState,`,
    `} from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";`,
    `import type { Deps } from '../server/deps.ts';`,
    `import "./_production.ts";`,
    `export { x } from "./x.ts";`,
    `export * from "./y.ts";`,
    `export type { Z } from "./z.ts";`,
    `const m = await import("../server/app.ts");`,
    `const n = import(\`./n.ts\`);`,
    `// a word like from "here" in a comment is not an import`,
    `const s = "import nothing from here";`,
  ].join("\n");
  assert.deepEqual(specifiersOf(source), [
    "node:assert/strict",
    "../../gen/taskmesh/tasks/v1/tasks_pb.ts",
    "../server/deps.ts",
    "./_production.ts",
    "./x.ts",
    "./y.ts",
    "./z.ts",
    "../server/app.ts",
    "./n.ts",
  ]);
});

Deno.test("specifiers resolve against their file and through the import map", () => {
  const file = new URL("tui/data/clients.ts", ROOT);
  assert.deepEqual(resolve("../../server/app.ts", file), { kind: "path", path: "server/app.ts" });
  assert.deepEqual(resolve("./session.ts", file), { kind: "path", path: "tui/data/session.ts" });
  assert.deepEqual(resolve("@bufbuild/protobuf/wkt", file), {
    kind: "npm",
    name: "npm:/@bufbuild/protobuf@2.17.0/wkt",
  });
  assert.equal(resolve("node:fs", file).kind, "other");
});

for (const { folder, rule, minFiles, allowed } of RULES) {
  Deno.test(`${folder} imports ${rule}`, async () => {
    const result = await scan(folder, allowed);
    // A broken walk or pattern must not pass by finding nothing.
    assert.ok(result.files >= minFiles, `only ${result.files} files found under ${folder}`);
    assert.ok(
      result.specifiers >= result.files,
      `only ${result.specifiers} import specifiers found in ${result.files} files under ${folder}`,
    );
    assert.deepEqual(result.offences, [], `${folder} may import ${rule}:\n${result.offences.join("\n")}`);
  });
}
