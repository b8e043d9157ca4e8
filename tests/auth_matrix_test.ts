/**
 * The authorization matrix: every method of every service generated into gen/ (found
 * by walking the folder, so a new service or method is covered the day it lands) ×
 * every kind of caller, against a router where each method is a stub that answers
 * an empty response. What is under test is the interceptor and the one table.
 */
import assert from "node:assert/strict";
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  createRouterTransport,
  type ServiceImpl,
} from "@connectrpc/connect";
import { generateKeyPair } from "jose";
import { signAccessToken } from "../server/auth/access_tokens.ts";
import { as, createAuthTestbed } from "../server/auth/testing.ts";
import { createAuthInterceptor } from "../server/authz/interceptor.ts";
import { API_KEY_SCOPES } from "../server/authz/scopes.ts";
import { AUTHZ_TABLE, type Rule, ruleFor } from "../server/authz/table.ts";
import { createMemoryLogger } from "../server/log.ts";

async function generatedServices(): Promise<DescService[]> {
  const root = new URL("../gen/", import.meta.url);
  const services: DescService[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir));
      else if (entry.name.endsWith("_pb.ts")) {
        const module = await import(new URL(entry.name, dir).href);
        for (const value of Object.values(module)) {
          if ((value as { kind?: string })?.kind === "service") services.push(value as DescService);
        }
      }
    }
  };
  await walk(root);
  return services.sort((a, b) => a.typeName.localeCompare(b.typeName));
}

type Caller =
  | { kind: "anonymous" }
  | { kind: "user"; role: string }
  | { kind: "api_key"; scopes: string[] };

/** What the table means, written out again here rather than reusing the interceptor's own decide(). */
function expectedOutcome(rule: Rule, caller: Caller): "ok" | Code {
  if ("public" in rule) return "ok";
  if (caller.kind === "anonymous") return Code.Unauthenticated;
  const allowed = caller.kind === "user"
    ? (rule.roles as readonly string[]).includes(caller.role)
    : rule.scopes.some((s) => s === "*" || caller.scopes.includes(s));
  return allowed ? "ok" : Code.PermissionDenied;
}

async function* nothing<T>(): AsyncIterable<T> {}

/** Every method answers an empty response; streams end at once after draining their input. */
function registerStubs(router: ConnectRouter, services: DescService[]): void {
  for (const service of services) {
    const impl: Record<string, unknown> = {};
    for (const method of service.methods) {
      switch (method.methodKind) {
        case "unary":
          impl[method.localName] = () => create(method.output);
          break;
        case "server_streaming":
          impl[method.localName] = async function* () {};
          break;
        case "client_streaming":
          impl[method.localName] = async (input: AsyncIterable<unknown>) => {
            for await (const _ of input);
            return create(method.output);
          };
          break;
        case "bidi_streaming":
          impl[method.localName] = async function* (input: AsyncIterable<unknown>) {
            for await (const _ of input);
            yield* [];
          };
          break;
      }
    }
    router.service(service, impl as unknown as Partial<ServiceImpl<DescService>>);
  }
}

/** Calls a method with an empty request; resolves to Code.OK-like "ok" or the error code. */
async function call(
  client: Record<string, (...args: unknown[]) => unknown>,
  method: DescMethod,
  credential: string | undefined,
): Promise<"ok" | Code> {
  const options = as(credential);
  try {
    switch (method.methodKind) {
      case "unary":
        await client[method.localName](create(method.input), options);
        break;
      case "server_streaming":
        for await (
          const _ of client[method.localName](create(method.input), options) as AsyncIterable<unknown>
        );
        break;
      case "client_streaming":
        await client[method.localName](nothing(), options);
        break;
      case "bidi_streaming":
        for await (const _ of client[method.localName](nothing(), options) as AsyncIterable<unknown>);
        break;
    }
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

Deno.test("every generated method has exactly one rule, and the table names no method that does not exist", async () => {
  const services = await generatedServices();
  assert.ok(services.length >= 8, `found only ${services.map((s) => s.typeName).join(", ")}`);
  const missing = services.flatMap((s) =>
    s.methods.filter((m) => !ruleFor(s.typeName, m.name)).map((m) => `${s.typeName}/${m.name}`)
  );
  assert.deepEqual(missing, [], "add these methods to server/authz/table.ts");
  const known = new Set(services.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)));
  const stale = Object.entries(AUTHZ_TABLE).flatMap(([s, methods]) =>
    Object.keys(methods).map((m) => `${s}/${m}`)
  )
    .filter((name) => !known.has(name));
  assert.deepEqual(stale, [], "these table rows name methods that no longer exist");
});

Deno.test("the matrix: every method × every kind of caller is allowed or refused exactly as the table says", async (t) => {
  const services = await generatedServices();
  const tb = await createAuthTestbed();
  try {
    const transport = createRouterTransport((router) => registerStubs(router, services), {
      router: { interceptors: [tb.runtime.interceptor()] },
    });

    type Principal = { name: string; credential?: string; as: Caller };
    const principals: Principal[] = [{ name: "anonymous", as: { kind: "anonymous" } }];
    for (const role of ["member", "viewer", "operator", "admin"] as const) {
      const user = await tb.createUser(role);
      const { access } = await tb.login(user.email, user.password);
      principals.push({ name: role, credential: access, as: { kind: "user", role } });
    }
    const admin = principals.find((p) => p.name === "admin")!.credential;
    for (const scope of API_KEY_SCOPES) {
      const { secret } = await tb.client.createApiKey({ name: `key ${scope}`, scopes: [scope] }, as(admin));
      principals.push({
        name: `api key ${scope}`,
        credential: secret,
        as: { kind: "api_key", scopes: [scope] },
      });
    }
    // Refused wherever credentials are needed, and treated as anonymous on public methods.
    const key = await tb.runtime.keys.currentKey();
    const past = tb.clock.now() - 3600_000;
    const expired = await signAccessToken(key, { userId: crypto.randomUUID(), role: "admin", scopes: [] }, {
      issuer: tb.config.issuer,
      audience: tb.config.audience,
      ttlSeconds: 900,
      now: past,
    });
    principals.push({ name: "expired admin token", credential: expired.token, as: { kind: "anonymous" } });
    const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await signAccessToken({
      kid: "not-a-published-kid",
      privateKey: stranger.privateKey as unknown as CryptoKey,
    }, {
      userId: crypto.randomUUID(),
      role: "admin",
      scopes: [],
    }, { issuer: tb.config.issuer, audience: tb.config.audience, ttlSeconds: 900, now: tb.clock.now() });
    principals.push({
      name: "admin token signed by an unknown key",
      credential: forged.token,
      as: { kind: "anonymous" },
    });

    let calls = 0;
    for (const service of services) {
      await t.step(service.typeName, async () => {
        const client = createClient(service, transport) as unknown as Record<
          string,
          (...args: unknown[]) => unknown
        >;
        const mismatches: string[] = [];
        for (const method of service.methods) {
          const rule = ruleFor(service.typeName, method.name)!;
          for (const p of principals) {
            const expected = expectedOutcome(rule, p.as);
            const got = await call(client, method, p.credential);
            calls++;
            if (got !== expected) {
              const name = (c: "ok" | Code) => (c === "ok" ? "ok" : Code[c]);
              mismatches.push(`${method.name} as ${p.name}: expected ${name(expected)}, got ${name(got)}`);
            }
          }
        }
        assert.deepEqual(mismatches, []);
      });
    }
    assert.ok(calls > 1000, `only ${calls} calls made`);
  } finally {
    await tb.close();
  }
});

Deno.test("a method without a rule is refused with PermissionDenied, even for an admin, and logged", async () => {
  const services = await generatedServices();
  const tb = await createAuthTestbed();
  try {
    const log = createMemoryLogger();
    const interceptor = createAuthInterceptor({
      verifyToken: tb.runtime.verifyToken,
      apiKeys: tb.runtime.apiKeys,
      log,
      ruleFor: (service, method) => (method === "Check" ? undefined : ruleFor(service, method)),
    });
    const transport = createRouterTransport((router) => registerStubs(router, services), {
      router: { interceptors: [interceptor] },
    });
    const admin = await tb.createUser("admin");
    const { access } = await tb.login(admin.email, admin.password);
    const health = services.find((s) => s.typeName === "grpc.health.v1.Health")!;
    const client = createClient(health, transport) as unknown as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    assert.equal(
      await call(client, health.methods.find((m) => m.name === "Check")!, access),
      Code.PermissionDenied,
    );
    assert.equal(
      await call(client, health.methods.find((m) => m.name === "Check")!, undefined),
      Code.PermissionDenied,
    );
    assert.ok(log.lines.some((l) => l.level === "error" && l.method === "grpc.health.v1.Health/Check"));
  } finally {
    await tb.close();
  }
});

Deno.test("the table says what the protos' comments say, for the cases people ask about", () => {
  const roles = (service: string, method: string) => {
    const rule = ruleFor(service, method)!;
    return "public" in rule ? "public" : [...rule.roles].sort().join(",");
  };
  const scopes = (service: string, method: string) => {
    const rule = ruleFor(service, method)!;
    return "public" in rule ? "public" : [...rule.scopes].sort().join(",");
  };
  const tags = "taskmesh.tags.v1.TagService";
  const tasks = "taskmesh.tasks.v1.TaskService";
  const auth = "taskmesh.auth.v1.AuthService";
  // Tag reads: any signed-in role; tag admin: admin; suggesting: members and above but not the read-only viewer.
  assert.equal(roles(tags, "ListTags"), "admin,member,operator,viewer");
  assert.equal(scopes(tags, "ListTags"), "tags:read");
  assert.equal(roles(tags, "CreateTag"), "admin");
  assert.equal(roles(tags, "ApproveSuggestion"), "admin");
  assert.equal(roles(tags, "SuggestTag"), "admin,member,operator");
  assert.equal(roles(tags, "ResolveAudience"), "admin,operator");
  // Task reads: viewer and above, or tasks:read; Enqueue: operator and above, or tasks:enqueue.
  assert.equal(roles(tasks, "ListTasks"), "admin,operator,viewer");
  assert.equal(scopes(tasks, "ListTasks"), "tasks:read");
  assert.equal(roles(tasks, "Enqueue"), "admin,operator");
  assert.equal(scopes(tasks, "Enqueue"), "tasks:enqueue");
  // The worker stream: a worker key and nothing else.
  assert.equal(roles("taskmesh.tasks.v1.WorkerService", "Connect"), "");
  assert.equal(scopes("taskmesh.tasks.v1.WorkerService", "Connect"), "worker");
  for (
    const method of [
      "Register",
      "Login",
      "Refresh",
      "VerifyEmail",
      "ResendVerification",
      "RequestPasswordReset",
      "ResetPassword",
      "GetJwks",
    ]
  ) {
    assert.equal(roles(auth, method), "public", method);
  }
  assert.equal(roles("taskmesh.campaigns.v1.CampaignService", "UnsubscribeByToken"), "public");
  assert.equal(roles("grpc.health.v1.Health", "Check"), "public");
  assert.equal(roles("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo"), "public");
  for (const method of ["ListUsers", "SetRole", "DisableUser", "RotateSigningKey"]) {
    assert.equal(roles(auth, method), "admin");
  }
});
