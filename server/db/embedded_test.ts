import assert from "node:assert/strict";
import {
  EmbeddedInUseError,
  findEmbeddedHolder,
  holderFilePath,
  openEmbeddedPostgres,
  startEmbeddedPostgres,
} from "./embedded.ts";
import { migrate, readMigrations } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";
import { createMemoryLogger } from "../log.ts";

Deno.test("embedded Postgres", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "taskmesh_pglite_" });
  try {
    await t.step("migrates and serves concurrent queries and transactions to one pool", async () => {
      const db = await startEmbeddedPostgres({ dataDir });
      const sql = connectPostgres(db.url, { max: 6 });
      try {
        const files = await readMigrations();
        assert.deepEqual((await migrate(sql)).applied, files.map((f) => f.file));

        // Reads, failing statements and transactions from many pool connections at once: a message
        // of one connection run inside another's exchange shows up as a wrong row or an error.
        await Promise.all(Array.from({ length: 60 }, async (_, i) => {
          if (i % 3 === 0) {
            const rows = await sql<{ n: number; s: string }[]>`select ${i}::int as n, ${"x" + i} as s`;
            assert.deepEqual([...rows], [{ n: i, s: "x" + i }]);
          } else if (i % 3 === 1) {
            await assert.rejects(sql`select 1 / ${0}::int`, /division by zero/);
          } else {
            const work = sql.begin(async (tx) => {
              await tx`insert into audit_log (actor, action, target) values ('test', 'write', ${String(i)})`;
              const [{ count }] = await tx<{ count: number }[]>`
                select count(*)::int as count from audit_log where target = ${String(i)}`;
              assert.equal(count, 1);
              // Every other transaction rolls back: its row must never be seen.
              if (i % 2 === 1) throw new Error("roll back");
            });
            if (i % 2 === 1) await assert.rejects(work, /roll back/);
            else await work;
          }
        }));
        const kept = await sql<{ target: string }[]>`select target from audit_log order by target::int`;
        const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === 2 && i % 2 === 0);
        assert.deepEqual(kept.map((r) => Number(r.target)), expected);
      } finally {
        await sql.end();
        await db.stop();
      }
    });

    await t.step("a client that vanishes inside a transaction does not block the others", async () => {
      const db = await startEmbeddedPostgres({ dataDir, maxConnections: 4 });
      const sql = connectPostgres(db.url, { max: 2 });
      const doomed = connectPostgres(db.url, { max: 1 });
      try {
        const conn = await doomed.reserve();
        await conn`begin`;
        await conn`insert into audit_log (actor, action) values ('doomed', 'never committed')`;
        // Ending the pool closes the socket with the transaction still open.
        await doomed.end({ timeout: 0 });
        const [{ count }] = await sql<{ count: number }[]>`
          select count(*)::int as count from audit_log where actor = 'doomed'`;
        assert.equal(count, 0);

        // Past maxConnections a client gets a Postgres error, not a hang.
        const crowd = connectPostgres(db.url, { max: 4 });
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 4 }, () => crowd`select 1`),
          );
          const refused = results.filter((r) => r.status === "rejected");
          assert.ok(refused.length >= 1, "some connection should have been refused");
          assert.match(String((refused[0] as PromiseRejectedResult).reason), /too many clients/);
        } finally {
          await crowd.end();
        }
      } finally {
        await sql.end();
        await db.stop();
      }
    });

    await t.step("a later start on the same folder finds the data", async () => {
      const db = await startEmbeddedPostgres({ dataDir });
      const sql = connectPostgres(db.url, { max: 2 });
      try {
        assert.deepEqual(await migrate(sql), { applied: [] });
        const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from audit_log`;
        assert.equal(count, 10); // 2, 8, 14, ... 56
      } finally {
        await sql.end();
        await db.stop();
      }
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("embedded Postgres: one holder per folder, and a crashed holder's file is stale", async () => {
  const dataDir = `${await Deno.makeTempDir({ prefix: "taskmesh_pglite_holder_" })}/pg`;
  const file = holderFilePath(dataDir);
  // A holder that crashed: its port closed, its pid long gone.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, pid: 2 ** 22 + 1, holder: "x" }),
  );
  assert.equal(await findEmbeddedHolder(dataDir), undefined);

  const db = await startEmbeddedPostgres({ dataDir, holder: "first" });
  try {
    const holder = await findEmbeddedHolder(dataDir);
    assert.equal(holder?.pid, Deno.pid);
    assert.equal(holder?.url, db.url);
    // A second opener of the folder is refused; a sharing one gets the holder's URL.
    await assert.rejects(startEmbeddedPostgres({ dataDir }), EmbeddedInUseError);
    const shared = await openEmbeddedPostgres({ dataDir });
    assert.equal(shared.url, db.url);
    assert.equal(shared.sharedWith?.holder, "first");
    await shared.stop();
    const sql = connectPostgres(shared.url, { max: 1 });
    assert.deepEqual([...await sql`select 1 as one`], [{ one: 1 }]);
    await sql.end();
  } finally {
    await db.stop();
  }
  await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  await Deno.remove(dataDir.replace(/\/pg$/, ""), { recursive: true });
});

/** Reads from `conn` until `want` bytes came, or the peer closed (then returns what came). */
async function readAtLeast(conn: Deno.Conn, want: number): Promise<Uint8Array> {
  let got = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (got.length < want) {
    const n = await conn.read(chunk);
    if (n === null) break;
    const next = new Uint8Array(got.length + n);
    next.set(got);
    next.set(chunk.subarray(0, n), got.length);
    got = next;
  }
  return got;
}

function startupMessage(user: string): Uint8Array {
  const body = new TextEncoder().encode(`user\0${user}\0database\0postgres\0\0`);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setInt32(0, out.length);
  new DataView(out.buffer).setInt32(4, 196608);
  out.set(body, 8);
  return out;
}

function passwordMessage(password: string): Uint8Array {
  const body = new TextEncoder().encode(password + "\0");
  const out = new Uint8Array(5 + body.length);
  out[0] = "p".charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

Deno.test("embedded Postgres: a private folder, and a password on the port", async (t) => {
  const parent = await Deno.makeTempDir({ prefix: "taskmesh_pglite_private_" });
  const dataDir = `${parent}/pg`;
  // Found open to everyone, as a default umask leaves a folder.
  await Deno.mkdir(dataDir);
  await Deno.chmod(dataDir, 0o755);
  const log = createMemoryLogger();
  const db = await startEmbeddedPostgres({ dataDir, log, authTimeoutMs: 2000 });
  try {
    await t.step("the folder is narrowed to 0700, saying so once", async () => {
      assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
      const warned = log.lines.filter((l) => String(l.msg ?? l.message).includes("narrowed to 0700"));
      assert.equal(warned.length, 1, JSON.stringify(log.lines));
      assert.equal(warned[0].was, "0755");
    });

    const { password, port } = new URL(db.url);
    await t.step("the URL carries a long random password, and the log never shows it", () => {
      assert.ok(password.length >= 32, db.url);
      assert.ok(!JSON.stringify(log.lines).includes(password), JSON.stringify(log.lines));
    });

    await t.step("the right password connects", async () => {
      const sql = connectPostgres(db.url, { max: 1 });
      try {
        assert.deepEqual([...await sql`select 1 as one`], [{ one: 1 }]);
      } finally {
        await sql.end();
      }
    });

    await t.step("a wrong or missing password is refused with 28P01", async () => {
      const wrong = new URL(db.url);
      wrong.password = password.slice(0, -1) + (password.endsWith("A") ? "B" : "A");
      const missing = new URL(db.url);
      missing.password = "";
      for (const url of [wrong.toString(), missing.toString()]) {
        const sql = connectPostgres(url, { max: 1 });
        try {
          await assert.rejects(sql`select 1`, (error: { code?: string }) => {
            assert.equal(error.code, "28P01", String(error));
            return true;
          });
        } finally {
          await sql.end();
        }
      }
    });

    await t.step("on the wire: asked for a cleartext password, refused, then closed", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      try {
        await conn.write(startupMessage("postgres"));
        const ask = await readAtLeast(conn, 9);
        // AuthenticationCleartextPassword: 'R', length 8, code 3.
        assert.deepEqual([...ask], ["R".charCodeAt(0), 0, 0, 0, 8, 0, 0, 0, 3]);
        await conn.write(passwordMessage("not the password"));
        const reply = await readAtLeast(conn, Number.MAX_SAFE_INTEGER); // until the server closes
        assert.equal(String.fromCharCode(reply[0]), "E");
        const text = new TextDecoder().decode(reply.subarray(5));
        assert.match(text, /C28P01\0/);
        assert.match(text, /Mpassword authentication failed for user "postgres"/);
      } finally {
        conn.close();
      }
      // Anything but a password after the request is refused too.
      const rude = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      try {
        await rude.write(startupMessage("postgres"));
        await readAtLeast(rude, 9);
        await rude.write(
          new Uint8Array(["Q".charCodeAt(0), 0, 0, 0, 13, ...new TextEncoder().encode("select 1\0")]),
        );
        const reply = await readAtLeast(rude, Number.MAX_SAFE_INTEGER);
        assert.equal(String.fromCharCode(reply[0]), "E");
        assert.match(new TextDecoder().decode(reply.subarray(5)), /C08P01\0/);
      } finally {
        rude.close();
      }
    });

    await t.step("a socket that never authenticates is closed", async () => {
      const idle = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
      try {
        // Sends nothing: the server gives up after authTimeoutMs and closes.
        const reply = await readAtLeast(idle, Number.MAX_SAFE_INTEGER);
        assert.equal(String.fromCharCode(reply[0]), "E");
        assert.match(new TextDecoder().decode(reply.subarray(5)), /C08006\0/);
      } finally {
        idle.close();
      }
    });
  } finally {
    await db.stop();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("embedded Postgres: a new folder and its missing parents are created 0700", async () => {
  const parent = await Deno.makeTempDir({ prefix: "taskmesh_pglite_new_" });
  const dataDir = `${parent}/data/pg`;
  const db = await startEmbeddedPostgres({ dataDir });
  try {
    assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${parent}/data`)).mode! & 0o777, 0o700);
  } finally {
    await db.stop();
    await Deno.remove(parent, { recursive: true });
  }
});
