/**
 * Every environment variable the code reads is documented: in .env.example and in the
 * README's configuration table. A new variable without docs fails here.
 */
import assert from "node:assert/strict";

const ENV_NAME = /"((?:TASKMESH|DATABASE|REDIS|SMTP|TEST)_[A-Z0-9_]+)"/g;

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sourceFiles(url);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

Deno.test("every environment variable the server reads is in .env.example and the README", async () => {
  const root = new URL("../", import.meta.url);
  const names = new Set<string>();
  for await (const file of sourceFiles(new URL("server/", root))) {
    for (const match of (await Deno.readTextFile(file)).matchAll(ENV_NAME)) names.add(match[1]);
  }
  assert.ok(names.has("DATABASE_URL") && names.has("TASKMESH_PORT"), "the scan finds the variables");
  const example = await Deno.readTextFile(new URL(".env.example", root));
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const missingExample = [...names].filter((n) => !new RegExp(`^#?\\s*${n}=`, "m").test(example));
  const missingReadme = [...names].filter((n) => !readme.includes(`\`${n}\``));
  assert.deepEqual(missingExample, [], "variables missing from .env.example");
  assert.deepEqual(missingReadme, [], "variables missing from the README");
});
