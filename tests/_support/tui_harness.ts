/**
 * The TUI against a real server: users of each role, clients acting as them, and
 * the Root component rendered with ink-testing-library, with waits that follow the
 * frames the TUI writes (never a timer) and a resizable fake terminal.
 */
import { createElement } from "react";
import { render } from "ink-testing-library";
import { type Client, createClient } from "@connectrpc/connect";
import { AuthService, Role } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { type App, startApp } from "../../server/app.ts";
import { createAdmin } from "../../server/auth/first_admin.ts";
import { Root, type RootProps } from "../../tui/root.tsx";
import type { Session } from "../../tui/data/session.ts";
import { signInWithPassword } from "../../tui/data/sign_in.ts";
import { bearer, openRawWorker, type RawWorker } from "./raw_worker.ts";
import { startTestServer, type TestServer, type TestServerOptions } from "./server.ts";

export type TuiRole = "member" | "viewer" | "operator" | "admin";

const PROTO_ROLE: Record<TuiRole, Role> = {
  member: Role.MEMBER,
  viewer: Role.VIEWER,
  operator: Role.OPERATOR,
  admin: Role.ADMIN,
};

export interface User {
  email: string;
  password: string;
  token: string;
}

export interface TuiHarness {
  server: TestServer;
  url: string;
  admin: User;
  workerKey: string;
  /** Clients calling as the admin. */
  tasks: Client<typeof TaskService>;
  workers: Client<typeof WorkerService>;
  tags: Client<typeof TagService>;
  /** A verified user of this role, signed in. */
  user(role: TuiRole): Promise<User>;
  /** A TUI session as a new user of this role (what the sign-in screen would produce). */
  session(role: TuiRole): Promise<Session>;
  /** Shuts the server down, as a crash or a deploy would (the database stays). */
  stopServer(): Promise<void>;
  /** Starts it again on the same port and database: sessions and data survive. */
  startServerAgain(): Promise<void>;
  /** A raw-protocol worker on these queues, past Welcome. */
  worker(
    queues: string[],
    options?: { id?: string; concurrency?: number; version?: string },
  ): Promise<RawWorker>;
  close(): Promise<void>;
}

export async function startTuiHarness(options: TestServerOptions = {}): Promise<TuiHarness> {
  // Raw workers in these tests do not heartbeat: a long interval keeps their leases.
  const server = await startTestServer({
    ...options,
    env: { TASKMESH_WORKER_HEARTBEAT_MS: "60000", TASKMESH_TASKS_TICK_MS: "50", ...options.env },
  });
  const auth = createClient(AuthService, server.connect());
  const password = "correct horse battery staple";
  const makeUser = async (role: TuiRole): Promise<User> => {
    const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const row = await createAdmin(server.deps, { email, password });
    if (role !== "admin") {
      await auth.setRole({ userId: row.id, role: PROTO_ROLE[role] }, bearer(admin.token));
    }
    const { tokens } = await auth.login({ email, password });
    return { email, password, token: tokens!.accessToken };
  };
  let admin: User = { email: "", password, token: "" };
  admin = await makeUser("admin");
  const { secret: workerKey } = await auth.createApiKey(
    { name: "worker", scopes: ["worker"] },
    bearer(admin.token),
  );
  const transport = server.grpc();
  const rawWorkers: RawWorker[] = [];
  let again: App | undefined;
  const as = bearer(admin.token);
  const withAdmin = <T extends object>(client: T): T =>
    new Proxy(client, {
      get(target, prop) {
        const method = Reflect.get(target, prop) as unknown;
        if (typeof method !== "function") return method;
        return (req: unknown, opts?: object) => method.call(target, req, { ...as, ...opts });
      },
    });
  return {
    server,
    url: server.url,
    admin,
    workerKey,
    tasks: withAdmin(createClient(TaskService, transport)),
    workers: withAdmin(createClient(WorkerService, transport)),
    tags: withAdmin(createClient(TagService, transport)),
    user: makeUser,
    async session(role) {
      const u = await makeUser(role);
      return signInWithPassword(server.url, u.email, u.password);
    },
    async worker(queues, opts = {}) {
      const w = openRawWorker(server.grpc(), workerKey);
      rawWorkers.push(w);
      w.send({
        case: "hello",
        value: {
          workerId: opts.id ?? `w-${crypto.randomUUID().slice(0, 6)}`,
          queues,
          concurrency: opts.concurrency ?? 4,
          version: opts.version ?? "raw-test/1.0",
        },
      });
      await w.nextOf("welcome");
      return w;
    },
    stopServer: () => server.app.shutdown(),
    async startServerAgain() {
      const port = new URL(server.url).port;
      const config = { ...server.deps.config, server: { ...server.deps.config.server, port: Number(port) } };
      // A fresh Deps object: a fresh task runtime, as a restarted process would have.
      again = await startApp({ ...server.deps, config });
    },
    async close() {
      for (const w of rawWorkers) w.kill();
      await Promise.all(rawWorkers.map((w) => w.ended));
      await again?.shutdown();
      await server.close();
    },
  };
}

export interface Screen {
  lastFrame(): string;
  /** Types keys, one write each, as a terminal would send them. */
  press(...keys: string[]): void;
  /** Resolves with the frame once `expect` holds; fails with the last frame after `ms`. */
  waitFor(expect: string | RegExp | ((frame: string) => boolean), ms?: number): Promise<string>;
  /** Waits until the text is gone from the screen. */
  waitForGone(text: string, ms?: number): Promise<string>;
  /** Changes the terminal size and tells the app, as SIGWINCH would. */
  resize(columns: number, rows: number): void;
  unmount(): void;
}

export const KEYS = {
  enter: "\r",
  esc: "\u001B",
  tab: "\t",
  up: "\u001B[A",
  down: "\u001B[B",
  right: "\u001B[C",
  left: "\u001B[D",
  backspace: "\u007F",
  ctrlC: "\u0003",
  ctrlU: "\u0015",
} as const;

/** Renders the TUI root in a fake terminal `columns`×`rows`. */
export function renderTui(props: RootProps, size = { columns: 120, rows: 40 }): Screen {
  const r = render(createElement(Root, props));
  const stdout = r.stdout as unknown as {
    write: (frame: string) => void;
    emit: (event: string) => boolean;
    columns: number;
    rows: number;
  };
  let waiters: (() => void)[] = [];
  const write = stdout.write;
  stdout.write = (frame: string) => {
    write(frame);
    for (const wake of waiters.splice(0)) wake();
  };
  const setSize = (columns: number, rows: number) => {
    Object.defineProperty(stdout, "columns", { value: columns, configurable: true, writable: true });
    Object.defineProperty(stdout, "rows", { value: rows, configurable: true, writable: true });
  };
  setSize(size.columns, size.rows);
  stdout.emit("resize");
  const frame = () => r.lastFrame() ?? "";
  const waitFor = async (
    expect: string | RegExp | ((frame: string) => boolean),
    ms = 20_000,
  ): Promise<string> => {
    const holds = typeof expect === "string"
      ? (f: string) => f.includes(expect)
      : expect instanceof RegExp
      ? (f: string) => expect.test(f)
      : expect;
    // The deadline only turns a hang into a readable failure; the wait itself is on frames.
    const deadline = AbortSignal.timeout(ms);
    while (!holds(frame())) {
      if (deadline.aborted) {
        throw new Error(`the screen never showed ${String(expect)}; last frame:\n${frame()}`);
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        deadline.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    return frame();
  };
  return {
    lastFrame: frame,
    press(...keys) {
      for (const key of keys) r.stdin.write(key);
    },
    waitFor,
    waitForGone: (text, ms) => waitFor((f) => !f.includes(text), ms),
    resize(columns, rows) {
      setSize(columns, rows);
      stdout.emit("resize");
    },
    unmount() {
      waiters = [];
      r.unmount();
      r.cleanup();
    },
  };
}

/** Waits on a server-side condition: re-asks after each answer, a bounded number of times. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 2000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
  }
  throw new Error(`${what}: never happened`);
}
