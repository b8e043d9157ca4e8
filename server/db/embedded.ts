/**
 * Postgres without a Postgres server: PGlite keeps its data in a folder and is served on a
 * loopback port, so the rest of taskmesh uses the same `postgres` driver and SQL as in production.
 *
 * One process at a time may open the folder: a second PGlite on the same files would keep
 * its own copy and lose its writes. So the process that opens it writes `<dir>.server.json`
 * beside the folder (mode 0600, removed when it stops) with its pid and the loopback URL.
 * The server refuses to start while another process holds the folder; the maintenance
 * commands (`deno task migrate`, `admin:create`, `keys:rotate`, `seed`) connect through the
 * holder's URL instead (`openEmbeddedPostgres`), so their writes land in the running server's
 * database.
 *
 * The port is on loopback, which every local user of a shared host can reach, so it asks for
 * a password made afresh at each start; the URL in the holder file (0600, in a 0700 folder)
 * carries it, and only redacted forms of that URL are ever logged. The folder itself is
 * created 0700 (and narrowed to 0700 when found wider), so nobody else reads PGlite's files.
 */
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "../log.ts";
import { randomToken } from "../auth/secrets.ts";
import { redact } from "../config.ts";
import { serveWireProtocol } from "./_pglite_wire.ts";

export interface EmbeddedPostgresOptions {
  /** Where the database files live; created when missing. */
  dataDir: string;
  log?: Logger;
  /** Connections the port accepts at once; a pool's `max` must stay below it. Defaults to 32. */
  maxConnections?: number;
  /** What this process is, for the holder file and for whoever finds it there. */
  holder?: string;
  /** How long a connection may take to authenticate before it is closed; 10 s when unset. */
  authTimeoutMs?: number;
}

export interface EmbeddedPostgres {
  /** A postgres:// URL for `connectPostgres`. */
  url: string;
  /** Set when another process serves the folder and this one connects through it. */
  sharedWith?: EmbeddedHolder;
  /** Closes every connection, then PGlite, so the folder can be opened again (nothing when shared). */
  stop(): Promise<void>;
}

/** What the holder file says. */
export interface EmbeddedHolder {
  url: string;
  pid: number;
  holder: string;
  startedAt: string;
}

/** The folder is held by another live process. */
export class EmbeddedInUseError extends Error {
  constructor(readonly dataDir: string, readonly by: EmbeddedHolder) {
    super(
      `the embedded database in ${dataDir} is in use by pid ${by.pid} (${by.holder}): stop that process ` +
        "first (or run the maintenance commands, which connect through it), or set DATABASE_URL",
    );
    this.name = "EmbeddedInUseError";
  }
}

/** The holder file of a PGlite folder: beside it, so PGlite's own files stay as they are. */
export function holderFilePath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, "")}.server.json`;
}

/** The live holder of the folder, or undefined when there is none (no file, or a stale one). */
export async function findEmbeddedHolder(dataDir: string): Promise<EmbeddedHolder | undefined> {
  let holder: EmbeddedHolder;
  try {
    holder = JSON.parse(await Deno.readTextFile(holderFilePath(dataDir)));
  } catch {
    return undefined;
  }
  if (typeof holder?.url !== "string" || typeof holder.pid !== "number") return undefined;
  return await isLive(holder) ? holder : undefined;
}

/** Alive: the pid exists (where /proc tells) and the port accepts a connection. */
async function isLive(holder: EmbeddedHolder): Promise<boolean> {
  try {
    if (Deno.build.os === "linux") await Deno.stat(`/proc/${holder.pid}`);
  } catch {
    return false;
  }
  const { hostname, port } = new URL(holder.url);
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), 1000);
  try {
    const conn = await Deno.connect({ hostname, port: Number(port), signal: timer.signal });
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timeout);
  }
}

/** Opens the folder itself; fails with EmbeddedInUseError while another live process holds it. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { dataDir, log } = options;
  const held = await findEmbeddedHolder(dataDir);
  if (held) throw new EmbeddedInUseError(dataDir, held);
  await ensurePrivateDir(dataDir, log);
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir });
  } catch (error) {
    throw new Error(
      `embedded database in ${dataDir} could not start: ${(error as Error).message}: ` +
        "check that no other taskmesh process uses this folder, or set DATABASE_URL",
      { cause: error },
    );
  }
  // 32 random bytes: 43 URL-safe characters, so the URL needs no escaping.
  const password = randomToken(32);
  const server = serveWireProtocol({
    db,
    maxConnections: options.maxConnections ?? 32,
    log,
    password,
    authTimeoutMs: options.authTimeoutMs,
  });
  const url = `postgres://postgres:${password}@127.0.0.1:${server.port}/postgres`;
  const file = holderFilePath(dataDir);
  try {
    await writeHolderFile(file, {
      url,
      pid: Deno.pid,
      holder: options.holder ?? "taskmesh",
      startedAt: new Date().toISOString(),
    });
  } catch (error) {
    await server.close();
    await db.close();
    throw error;
  }
  log?.info("embedded database started", { dataDir, url: redact(url) });
  let stopped: Promise<void> | null = null;
  return {
    url,
    stop() {
      stopped ??= (async () => {
        // First, so nobody connects to a port that is closing.
        await removeOwnHolderFile(file);
        await server.close();
        await db.close();
        log?.info("embedded database stopped", { dataDir });
      })();
      return stopped;
    },
  };
}

/**
 * For the maintenance commands: the database of the process that holds the folder when one
 * runs (its URL; stopping leaves it running), otherwise the folder opened here.
 */
export async function openEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const held = await findEmbeddedHolder(options.dataDir);
  if (held) return { url: held.url, sharedWith: held, stop: () => Promise.resolve() };
  try {
    return await startEmbeddedPostgres(options);
  } catch (error) {
    // Another process opened it between the look and the start: use it.
    if (error instanceof EmbeddedInUseError) {
      return { url: error.by.url, sharedWith: error.by, stop: () => Promise.resolve() };
    }
    throw error;
  }
}

/**
 * Creates `dir` (and any missing parents) readable by this user only, or narrows an existing
 * one to 0700, saying so once when it was open to others. Windows has no such modes: skipped.
 */
export async function ensurePrivateDir(dir: string, log?: Logger): Promise<void> {
  // The mode applies to every folder mkdir creates; the umask can only narrow it further.
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (Deno.build.os === "windows") return;
  const mode = (await Deno.stat(dir)).mode! & 0o777;
  if (mode === 0o700) return;
  await Deno.chmod(dir, 0o700);
  if (mode & 0o077) {
    log?.warn("data folder was readable by other users: narrowed to 0700", {
      dir,
      was: "0" + mode.toString(8),
    });
  }
}

async function writeHolderFile(file: string, holder: EmbeddedHolder): Promise<void> {
  const dir = file.slice(0, Math.max(0, file.lastIndexOf("/"))) || ".";
  // makeTempFile creates the file 0600; the rename makes it appear whole.
  const temp = await Deno.makeTempFile({ dir, prefix: ".pg-holder-" });
  await Deno.writeTextFile(temp, JSON.stringify(holder, null, 2) + "\n");
  await Deno.rename(temp, file);
}

async function removeOwnHolderFile(file: string): Promise<void> {
  try {
    const holder = JSON.parse(await Deno.readTextFile(file)) as EmbeddedHolder;
    if (holder.pid === Deno.pid) await Deno.remove(file);
  } catch {
    // Already gone.
  }
}
