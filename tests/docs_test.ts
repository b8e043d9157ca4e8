/**
 * Every environment variable the code reads is documented: in .env.example and in the
 * README's configuration table. A new variable without docs fails here. The server,
 * the worker and the mail module they share are scanned.
 */
import assert from "node:assert/strict";

// A quoted name ("SMTP_URL", as the server's EnvReader takes it) or a property of an env
// map (env.TASKMESH_API_KEY, as the worker's flags read it).
const NAME = "(?:TASKMESH|DATABASE|REDIS|SMTP|TEST)_[A-Z0-9_]+";
const ENV_NAME = new RegExp(`"(${NAME})"|\\benv\\.(${NAME})\\b`, "g");
/** Names the scan must find, so a scan that silently finds nothing fails. */
const KNOWN = ["DATABASE_URL", "TASKMESH_PORT", "SMTP_URL", "TASKMESH_API_KEY", "TASKMESH_SERVER_URL"];

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sourceFiles(url);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

Deno.test("every environment variable the server and the worker read is in .env.example and the README", async () => {
  const root = new URL("../", import.meta.url);
  const names = new Set<string>();
  for (const dir of ["server/", "worker/", "mail/"]) {
    for await (const file of sourceFiles(new URL(dir, root))) {
      for (const match of (await Deno.readTextFile(file)).matchAll(ENV_NAME)) names.add(match[1] ?? match[2]);
    }
  }
  for (const name of KNOWN) assert.ok(names.has(name), `the scan finds ${name}`);
  const example = await Deno.readTextFile(new URL(".env.example", root));
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const missingExample = [...names].filter((n) => !new RegExp(`^#?\\s*${n}=`, "m").test(example));
  const missingReadme = [...names].filter((n) => !readme.includes(`\`${n}\``));
  assert.deepEqual(missingExample, [], "variables missing from .env.example");
  assert.deepEqual(missingReadme, [], "variables missing from the README");
});
