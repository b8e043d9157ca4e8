// The real-client tier: `buf curl` learns the schema only through our reflection, over gRPC on a real h2c
// socket, then calls a method with it.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { registerReflection } from "./mod.ts";

const REPO_ROOT = new URL("../../", import.meta.url);

async function startServer() {
  const server = http2.createServer(connectNodeAdapter({
    routes: (router) => {
      router.service(TagService, {});
      registerReflection(router, [TagService]);
    },
  }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // buf has exited by now, but a session it left open would keep server.close() waiting forever.
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}

async function bufCurl(...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "npm:@bufbuild/buf@1.74.0",
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      ...args,
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

Deno.test("server reflection with buf curl over h2c", async (t) => {
  const server = await startServer();
  try {
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      await t.step(`--list-services via ${protocol}`, async () => {
        const result = await bufCurl("--reflect-protocol", protocol, "--list-services", server.url);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(result.stdout.trim().split("\n").sort(), [
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
          "taskmesh.tags.v1.TagService",
        ]);
      });
    }

    await t.step("--list-methods lists every TagService method and reflection's", async () => {
      const result = await bufCurl("--list-methods", server.url);
      assert.equal(result.code, 0, result.stderr);
      const listed = new Set(result.stdout.trim().split("\n"));
      for (const method of TagService.methods) {
        assert.ok(
          listed.has(`taskmesh.tags.v1.TagService/${method.name}`),
          `${method.name} in:\n${result.stdout}`,
        );
      }
      assert.ok(listed.has("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), result.stdout);
    });

    await t.step("a call with the schema from reflection reaches the method", async () => {
      const result = await bufCurl(
        "-d",
        '{"slug":"intro"}',
        `${server.url}/taskmesh.tags.v1.TagService/GetTag`,
      );
      // The request JSON only encodes with the schema reflection gave; GetTag has no implementation here, so connect answers Unimplemented; buf exits non-zero.
      assert.notEqual(result.code, 0);
      assert.match(result.stdout + result.stderr, /"code":\s*"unimplemented"/, result.stderr);
    });
  } finally {
    await server.close();
  }
});
