/**
 * Serves one PGlite instance to several Postgres wire-protocol clients on a loopback port.
 *
 * Why not `PGLiteSocketServer` from @electric-sql/pglite-socket: its queue interleaves single
 * protocol messages from different connections, but PGlite is one backend session, so one
 * connection's Bind can land on another's unnamed statement ("portal does not exist", or wrong
 * rows) as soon as a `postgres` pool runs queries concurrently (electric-sql/pglite#1046).
 * Here a connection owns the session from its first message until a Sync/Query completes with
 * no transaction open, and everything it sent up to that point runs as one batch.
 *
 * What stays different from a real server, because there is one session underneath: session
 * state (SET, prepared statements, advisory locks, LISTEN) is shared by every connection, and
 * a connection idle inside a transaction makes the others wait until it ends.
 *
 * Every connection must give the password before it reaches PGlite: the port is on loopback,
 * but any local user of a shared host can reach loopback. The exchange is the protocol's
 * cleartext one (AuthenticationCleartextPassword, then a PasswordMessage), which never leaves
 * the machine; a wrong or missing password gets a FATAL 28P01 and the socket closes.
 */
import type { PGlite } from "@electric-sql/pglite";
import { timingSafeEqual } from "node:crypto";
import type { Logger } from "../log.ts";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

// Parse, Bind, Describe, Execute, Close: parts of an extended-protocol exchange that only
// make sense together with what follows them up to the Sync.
const EXTENDED = new Set(["P", "B", "D", "E", "C"].map((c) => c.charCodeAt(0)));
const SYNC = "S".charCodeAt(0);
const QUERY = "Q".charCodeAt(0);
const TERMINATE = "X".charCodeAt(0);
const PASSWORD = "p".charCodeAt(0);

/** AuthenticationCleartextPassword: 'R', length 8, code 3. */
const ASK_PASSWORD = new Uint8Array(["R".charCodeAt(0), 0, 0, 0, 8, 0, 0, 0, 3]);

const SYNC_MESSAGE = new Uint8Array([SYNC, 0, 0, 0, 4]);

function queryMessage(text: string): Uint8Array {
  const body = new TextEncoder().encode(text + "\0");
  const out = new Uint8Array(5 + body.length);
  out[0] = QUERY;
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** A FATAL ErrorResponse, so a refused client sees a Postgres error rather than a dropped socket. */
function fatalMessage(code: string, message: string): Uint8Array {
  const fields = new TextEncoder().encode(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const out = new Uint8Array(5 + fields.length);
  out[0] = "E".charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + fields.length);
  out.set(fields, 5);
  return out;
}

/** The `user` parameter of a StartupMessage, for the refusal's wording. */
function startupUser(packet: Uint8Array): string {
  const parts = new TextDecoder().decode(packet.subarray(8)).split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] === "user") return parts[i + 1];
  return "";
}

/** Compares in time that does not depend on where the strings differ. */
function samePassword(given: Uint8Array, expected: Uint8Array): boolean {
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(given, expected);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Hands the single PGlite session to one connection at a time, first come first served. */
class SessionOwner {
  #owner: number | null = null;
  #waiting: { id: number; grant: () => void }[] = [];

  get owner(): number | null {
    return this.#owner;
  }

  acquire(id: number): Promise<void> {
    if (this.#owner === null || this.#owner === id) {
      this.#owner = id;
      return Promise.resolve();
    }
    return new Promise((grant) => this.#waiting.push({ id, grant }));
  }

  release(id: number): void {
    if (this.#owner !== id) return;
    const next = this.#waiting.shift();
    this.#owner = next?.id ?? null;
    next?.grant();
  }

  /** Drops a connection that went away while waiting. */
  forget(id: number): void {
    this.#waiting = this.#waiting.filter((w) => w.id !== id);
  }
}

export interface WireServerOptions {
  db: PGlite;
  maxConnections: number;
  /** What every client must send at startup (cleartext over loopback). */
  password: string;
  /**
   * A connection that has not authenticated by then is closed, so sockets that never send a
   * password cannot hold every slot. Defaults to 10 s (Postgres's authentication_timeout is 60 s).
   */
  authTimeoutMs?: number;
  log?: Logger;
}

export interface WireServer {
  port: number;
  /** Closes the listener and every connection; PGlite itself stays open. */
  close(): Promise<void>;
}

export function serveWireProtocol(options: WireServerOptions): WireServer {
  const { db, maxConnections, log } = options;
  const password = new TextEncoder().encode(options.password);
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const session = new SessionOwner();
  const open = new Map<number, Deno.Conn>();
  const running = new Set<Promise<void>>();
  let nextId = 1;
  let closing = false;

  /** Runs bytes on the session; the caller must own it. Output goes to `write` in order. */
  const run = (bytes: Uint8Array, write: (data: Uint8Array) => void) =>
    db.runExclusive(() =>
      // The data view is PGlite's receive buffer, reused on the next call: copy it out.
      db.execProtocolRawStream(bytes, { onRawData: (data) => write(data.slice()) })
    );

  async function serve(id: number, conn: Deno.Conn): Promise<void> {
    const writer = conn.writable.getWriter();
    let writeFailed: unknown = null;
    const write = (data: Uint8Array) => {
      writer.write(data).catch((error) => writeFailed ??= error);
    };
    let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    let started = false;
    // The StartupMessage, held back from PGlite until the password checks out.
    let startup: Uint8Array | null = null;
    const authTimer = setTimeout(() => {
      if (started) return;
      write(
        fatalMessage("08006", "authentication timed out: send the startup message and password promptly"),
      );
      writer.close().catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      });
    }, authTimeoutMs);
    // True while this connection owns the session: from a batch that left a transaction or an
    // unfinished extended exchange open, until a batch that closes both.
    let owning = false;
    try {
      for await (const chunk of conn.readable) {
        buffer = concat(buffer, chunk);
        if (startup) {
          // Waiting for the PasswordMessage: 'p', length, the password and a NUL.
          if (buffer.length < 5) continue;
          const length = new DataView(buffer.buffer, buffer.byteOffset).getInt32(1);
          if (buffer[0] !== PASSWORD || length < 5 || length > 1028) {
            write(fatalMessage("08P01", "expected a password message: send the password at startup"));
            return;
          }
          if (buffer.length < 1 + length) continue;
          const given = buffer.slice(5, length); // without the trailing NUL
          buffer = buffer.slice(1 + length);
          if (!samePassword(given, password)) {
            const user = startupUser(startup);
            write(fatalMessage("28P01", `password authentication failed for user "${user}"`));
            log?.warn("embedded database refused a connection: wrong password", { user });
            return;
          }
          const packet = startup;
          startup = null;
          await session.acquire(id);
          try {
            await run(packet, write);
          } finally {
            session.release(id);
          }
          started = true;
          clearTimeout(authTimer);
          if (buffer.length === 0) continue;
        }
        if (!started) {
          if (buffer.length < 8) continue;
          const view = new DataView(buffer.buffer, buffer.byteOffset);
          const length = view.getInt32(0);
          const code = view.getInt32(4);
          if (buffer.length < length) continue;
          const packet = buffer.slice(0, length);
          buffer = buffer.slice(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            write(new Uint8Array(["N".charCodeAt(0)]));
          } else if (code === CANCEL_REQUEST) {
            // There is no separate backend to interrupt; the protocol expects no answer.
            return;
          } else if (code === PROTOCOL_3) {
            startup = packet;
            write(ASK_PASSWORD);
            continue;
          } else {
            write(fatalMessage("08P01", `unsupported startup code ${code}: use protocol 3.0`));
            return;
          }
          if (buffer.length === 0) continue;
        }
        // Everything up to the last complete message that ends an exchange runs as one batch.
        let cut = 0;
        let lastType = 0;
        let terminate = false;
        for (let at = 0; at + 5 <= buffer.length;) {
          const type = buffer[at];
          const end = at + 1 + new DataView(buffer.buffer, buffer.byteOffset + at + 1).getInt32(0);
          if (end > buffer.length) break;
          if (type === TERMINATE) {
            terminate = true;
            break;
          }
          at = end;
          if (!EXTENDED.has(type)) {
            cut = end;
            lastType = type;
          }
        }
        if (cut > 0) {
          const batch = buffer.slice(0, cut);
          buffer = buffer.slice(cut);
          if (!owning) await session.acquire(id);
          owning = true;
          try {
            await run(batch, write);
          } finally {
            owning = db.isInTransaction() || (lastType !== SYNC && lastType !== QUERY);
            if (!owning) session.release(id);
          }
        }
        if (writeFailed) throw writeFailed;
        if (terminate) return;
      }
    } finally {
      clearTimeout(authTimer);
      session.forget(id);
      if (session.owner === id) {
        // The client left mid-exchange or mid-transaction: end both so the next owner starts clean.
        await run(SYNC_MESSAGE, () => {}).catch(() => {});
        if (db.isInTransaction()) await run(queryMessage("rollback"), () => {}).catch(() => {});
        session.release(id);
      }
      await writer.close().catch(() => {});
      open.delete(id);
      try {
        conn.close();
      } catch {
        // Already closed by the peer.
      }
    }
  }

  const accepting = (async () => {
    for await (const conn of listener) {
      if (closing) {
        conn.close();
        continue;
      }
      if (open.size >= maxConnections) {
        // Rejected before startup: a bare ErrorResponse is what Postgres sends for "too many clients".
        const w = conn.writable.getWriter();
        await w.write(fatalMessage("53300", "sorry, too many clients already")).catch(() => {});
        await w.close().catch(() => {});
        continue;
      }
      const id = nextId++;
      open.set(id, conn);
      const task = serve(id, conn).catch((error) => {
        if (!closing) log?.warn("embedded database connection failed", { error });
      });
      running.add(task);
      task.finally(() => running.delete(task));
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      closing = true;
      listener.close();
      await accepting.catch(() => {});
      for (const conn of open.values()) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await Promise.all(running);
    },
  };
}
