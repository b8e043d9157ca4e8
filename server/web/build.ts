/**
 * Builds the member web app (`web/`) into `web/dist/` with esbuild: one hashed JS and
 * one hashed CSS file, and an index.html that names them. `ensureWebBuild` rebuilds
 * only when the inputs (web/, gen/, deno.lock) changed since the last build, so
 * `deno task start` pays for a build once. `deno task web:build` forces one.
 */
import * as esbuild from "esbuild";
import { WEB_DIR, WEB_DIST } from "./paths.ts";

const ROOT = new URL("../../", import.meta.url);
const STAMP = "build-inputs.sha256";

export interface WebBuildResult {
  /** False when the last build was still current. */
  built: boolean;
  ms: number;
  /** The JS and CSS files index.html loads, relative to web/dist/. */
  files: string[];
}

async function* walk(dir: URL): AsyncGenerator<URL> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name === "dist" || entry.name.startsWith(".")) continue;
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.isFile) yield url;
  }
}

/** A hash of everything the bundle is made of. */
async function inputsHash(): Promise<string> {
  const parts: string[] = [];
  const files = [
    ...(await Array.fromAsync(walk(WEB_DIR))),
    ...(await Array.fromAsync(walk(new URL("gen/", ROOT)))),
    new URL("deno.lock", ROOT),
    new URL("server/web/build.ts", ROOT),
  ];
  for (const file of files) {
    const bytes = await Deno.readFile(file).catch(() => new Uint8Array());
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    parts.push(`${file.pathname.slice(ROOT.pathname.length)} ${hex(digest)}`);
  }
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n"))));
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readStamp(): Promise<string | undefined> {
  try {
    await Deno.stat(new URL("index.html", WEB_DIST));
    return (await Deno.readTextFile(new URL(STAMP, WEB_DIST))).trim();
  } catch {
    return undefined;
  }
}

async function listBuilt(): Promise<string[]> {
  const html = await Deno.readTextFile(new URL("index.html", WEB_DIST));
  return [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]);
}

/** Builds when web/dist is missing or older than its inputs. */
export async function ensureWebBuild(options: { force?: boolean } = {}): Promise<WebBuildResult> {
  const started = performance.now();
  const hash = await inputsHash();
  if (!options.force && (await readStamp()) === hash) {
    return { built: false, ms: performance.now() - started, files: await listBuilt() };
  }
  const files = await buildInto(hash);
  return { built: true, ms: performance.now() - started, files };
}

async function buildInto(hash: string): Promise<string[]> {
  // Built beside dist and swapped in whole, so a server reading dist never sees half a build.
  const temp = new URL(`web/.dist-${crypto.randomUUID().slice(0, 8)}/`, ROOT);
  try {
    const result = await esbuild.build({
      entryPoints: { app: new URL("src/main.tsx", WEB_DIR).pathname },
      bundle: true,
      format: "esm",
      target: ["chrome120", "firefox120", "safari17"],
      minify: true,
      sourcemap: false,
      legalComments: "none",
      jsx: "automatic",
      jsxImportSource: "react",
      define: { "process.env.NODE_ENV": '"production"' },
      outdir: new URL("assets/", temp).pathname,
      entryNames: "[name]-[hash]",
      assetNames: "[name]-[hash]",
      metafile: true,
      write: true,
      logLevel: "silent",
      absWorkingDir: ROOT.pathname,
      nodePaths: [new URL("node_modules/", ROOT).pathname],
    });
    const outputs = Object.keys(result.metafile.outputs).map((path) => path.slice(path.indexOf("assets/")));
    const js = outputs.filter((f) => f.endsWith(".js"));
    const css = outputs.filter((f) => f.endsWith(".css"));
    const template = await Deno.readTextFile(new URL("index.html", WEB_DIR));
    const html = template
      .replace("<!-- styles -->", css.map((f) => `<link rel="stylesheet" href="/${f}">`).join("\n    "))
      .replace(
        "<!-- scripts -->",
        js.map((f) => `<script type="module" src="/${f}"></script>`).join("\n    "),
      );
    await Deno.writeTextFile(new URL("index.html", temp), html);
    await Deno.writeTextFile(new URL(STAMP, temp), hash + "\n");
    const trash = new URL(`web/.dist-old-${crypto.randomUUID().slice(0, 8)}/`, ROOT);
    await Deno.rename(WEB_DIST, trash).catch(() => {});
    try {
      await Deno.rename(temp, WEB_DIST);
    } catch (error) {
      // Another process built at the same moment and its build is in place: same inputs, same result.
      if ((await readStamp()) !== hash) throw error;
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    }
    await Deno.remove(trash, { recursive: true }).catch(() => {});
    return [...js, ...css];
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const result = await ensureWebBuild({ force: Deno.args.includes("--force") });
  console.error(
    `web app ${result.built ? "built" : "already current"} in ${Math.round(result.ms)} ms: ${
      result.files.join(", ")
    }`,
  );
}
