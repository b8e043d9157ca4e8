/**
 * The foundation over a real port: every protocol reaches health, reflection lists
 * every method to a real client, limits hold, and shutdown drains in order.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { TagService } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { CreateTagRequestSchema, CreateTagResponseSchema } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { ALL_DESCS } from "../server/services.ts";
import { startTestServer } from "./_support/server.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("health answers over gRPC, gRPC-Web and Connect on one port", opts, async () => {
  const server = await startTestServer();
  try {
    for (
      const [name, transport] of Object.entries({
        grpc: server.grpc(),
        grpcWeb: server.grpcWeb(),
        connect: server.connect(),
        connectH2: server.connectH2(),
      })
    ) {
      const health = createClient(Health, transport);
      const overall = await health.check({ service: "" });
      assert.equal(overall.status, Status.SERVING, `${name}: overall status`);
      const tags = await health.check({ service: "taskmesh.tags.v1.TagService" });
      assert.equal(tags.status, Status.SERVING, `${name}: per-service status`);
      await assert.rejects(
        health.check({ service: "nope.v1.Nope" }),
        (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
        `${name}: unknown service`,
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("buf curl lists every method through reflection, with no schema given", opts, async () => {
  const server = await startTestServer();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "npm:@bufbuild/buf@1.74.0",
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        server.url,
        "--list-methods",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const listed = new Set(text.trim().split("\n"));
    for (const desc of ALL_DESCS) {
      for (const method of desc.methods) {
        assert.ok(listed.has(`${desc.typeName}/${method.name}`), method.name);
      }
    }
    assert.ok(listed.has("grpc.health.v1.Health/Check"));
    assert.ok(listed.has("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
  } finally {
    await server.close();
  }
});

Deno.test("a method still to be built answers Unimplemented and names what brings it", opts, async () => {
  // Without authentication: the authorization table answers anonymous callers first.
  const server = await startTestServer({ env: { TASKMESH_SERVICES: "campaigns" }, authenticate: false });
  try {
    const { CampaignService } = await import("../gen/taskmesh/campaigns/v1/campaigns_pb.ts");
    const client = createClient(CampaignService, server.grpc());
    await assert.rejects(client.getCampaign({ id: "x" }), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.Unimplemented);
      assert.match(e.rawMessage, /GetCampaign is not implemented yet: it arrives with the campaigns service/);
      return true;
    });
  } finally {
    await server.close();
  }
});

Deno.test("an oversized message gets ResourceExhausted and the server keeps serving", opts, async () => {
  const server = await startTestServer({
    env: { TASKMESH_SERVICES: "auth", TASKMESH_MAX_MESSAGE_BYTES: "4096" },
    authenticate: false,
    extraRoutes: (router) =>
      router.service(TagService, {
        createTag: (req) => create(CreateTagResponseSchema, { tag: { name: req.name } }),
      }),
  });
  try {
    for (const transport of [server.grpc(), server.connect()]) {
      const tags = createClient(TagService, transport);
      const big = "x".repeat(8192);
      assert.ok(
        toBinary(CreateTagRequestSchema, create(CreateTagRequestSchema, { description: big })).length > 4096,
      );
      await assert.rejects(
        tags.createTag({ name: "a", description: big }),
        (e: unknown) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
      );
      const ok = await tags.createTag({ name: "small" });
      assert.equal(ok.tag?.name, "small");
    }
    const health = createClient(Health, server.grpc());
    assert.equal((await health.check({})).status, Status.SERVING);
  } finally {
    await server.close();
  }
});

Deno.test("every RPC writes one log line and is counted in /metrics", opts, async () => {
  const server = await startTestServer();
  try {
    const health = createClient(Health, server.connect());
    await health.check({}, { headers: { "x-request-id": "req-abc-123" } });
    await health.check({ service: "missing" }).catch(() => {});
    const lines = server.log.lines.filter((l) =>
      l.msg === "rpc" && l.method === "grpc.health.v1.Health/Check"
    );
    assert.equal(lines.length, 2);
    assert.equal(lines[0].code, "ok");
    assert.equal(lines[0].request_id, "req-abc-123");
    assert.equal(lines[0].caller, "anonymous");
    assert.equal(typeof lines[0].duration_ms, "number");
    assert.equal(lines[1].code, "not_found");

    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /taskmesh_rpc_total\{code="ok",method="grpc.health.v1.Health\/Check"\} 1/);
    assert.match(text, /taskmesh_rpc_total\{code="not_found",method="grpc.health.v1.Health\/Check"\} 1/);
    assert.match(
      text,
      /taskmesh_rpc_duration_seconds_bucket\{code="ok",method="grpc.health.v1.Health\/Check",le="\+Inf"\} 1/,
    );
    assert.match(text, /process_resident_memory_bytes \d+/);
  } finally {
    await server.close();
  }
});

Deno.test("browsers get CORS answers for Connect-Web", opts, async () => {
  const server = await startTestServer();
  try {
    const res = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version",
      },
    });
    await res.body?.cancel();
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /connect-protocol-version/);
    const call = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { origin: "http://localhost:5173", "content-type": "application/json" },
      body: "{}",
    });
    assert.deepEqual(await call.json(), { status: "SERVING" });
    assert.match(call.headers.get("access-control-expose-headers") ?? "", /grpc-status/);
  } finally {
    await server.close();
  }
});

Deno.test("with a certificate the port speaks TLS: h2 and HTTP/1.1 by ALPN", opts, async () => {
  const dir = await Deno.makeTempDir();
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
  const server = await startTestServer({
    env: { TASKMESH_TLS_CERT_FILE: `${dir}/cert.pem`, TASKMESH_TLS_KEY_FILE: `${dir}/key.pem` },
  });
  try {
    assert.match(server.url, /^https:/);
    // curl as the client: Deno's node:tls client failed here with "write EPERM" while curl,
    // like other real clients, negotiates h2 and http/1.1 with this server fine.
    for (const version of ["--http2", "--http1.1"]) {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          version,
          "--cacert",
          `${dir}/cert.pem`,
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          "-d",
          "{}",
          "-w",
          " %{http_version}",
          `${server.url}/grpc.health.v1.Health/Check`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const expected = version === "--http2" ? "2" : "1.1";
      assert.equal(new TextDecoder().decode(out.stdout), `{"status":"SERVING"} ${expected}`);
    }
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
