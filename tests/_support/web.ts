/**
 * The member web app in a real browser: Debian's chromium driven by playwright-core, a
 * test server that serves the built app on a port its own mails link to, a loopback
 * SMTP sink to read those mails from, and screenshots under tests/.artifacts/web/.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { createClient } from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { hashPassword } from "../../server/auth/passwords.ts";
import { insertUser } from "../../server/auth/user_queries.ts";
import type { Clock } from "../../server/clock.ts";
import { ensureWebBuild } from "../../server/web/build.ts";
import { decodeQuotedPrintable, type SmtpSink, startSmtpSink } from "../../mail/testing.ts";
import { startTestServer, type TestServer } from "./server.ts";

export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ARTIFACTS = new URL("../.artifacts/web/", import.meta.url);

export async function launchBrowser(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does it)`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A free loopback port, so the server's public URL (its mails' links) can name it before it listens. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface WebTestbed {
  server: TestServer;
  sink: SmtpSink;
  url: string;
  auth: ReturnType<typeof createClient<typeof AuthService>>;
  tags: ReturnType<typeof createClient<typeof TagService>>;
  /** An admin signed in over RPC; its access token. */
  adminToken(): Promise<string>;
  /** The link of the latest mail to `email` whose subject matches. */
  linkFromMail(email: string, subject: RegExp, path: string): Promise<string>;
  close(): Promise<void>;
}

export async function startWebTestbed(
  options: { clock?: Clock; env?: Record<string, string> } = {},
): Promise<WebTestbed> {
  await ensureWebBuild();
  const sink = await startSmtpSink();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startTestServer({
    clock: options.clock,
    env: {
      // Without the task runtime, auth sends its mails straight to SMTP (no worker needed).
      TASKMESH_SERVICES: "auth,tags",
      TASKMESH_PORT: String(port),
      TASKMESH_PUBLIC_URL: url,
      SMTP_URL: sink.url,
      TASKMESH_MAIL_FROM: "taskmesh <no-reply@example.com>",
      TASKMESH_RATE_REGISTER_IP: "100/1m",
      ...options.env,
    },
  });
  const auth = createClient(AuthService, server.connect());
  const tags = createClient(TagService, server.connect());
  let admin: string | undefined;
  return {
    server,
    sink,
    url,
    auth,
    tags,
    async adminToken() {
      if (admin) return admin;
      const email = `admin-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const password = `admin passphrase ${crypto.randomUUID()}`;
      const now = new Date((options.clock ?? { now: Date.now }).now());
      await insertUser(server.deps.sql, {
        id: crypto.randomUUID(),
        email,
        displayName: "Admin",
        passwordHash: await hashPassword(password),
        role: "admin",
        verifiedAt: now,
        now,
      });
      admin = (await auth.login({ email, password })).tokens!.accessToken;
      return admin;
    },
    async linkFromMail(email, subject, path) {
      const mail = await within(
        15_000,
        `a mail to ${email}`,
        sink.waitFor((m) => m.to.includes(email) && subject.test(decodeQuotedPrintable(m.raw))),
      );
      const body = decodeQuotedPrintable(mail.raw);
      const match = new RegExp(`${url.replace(/[.]/g, "\\.")}${path}\\?token=[A-Za-z0-9_-]+`).exec(body);
      if (!match) throw new Error(`the mail to ${email} has no ${path} link under ${url}:\n${body}`);
      return match[0];
    },
    async close() {
      await server.close();
      await sink.close();
    },
  };
}

/** Fails instead of hanging when the awaited thing never happens. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Saves a full-page screenshot as a test artifact (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

export function uniqueEmail(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}
