import assert from "node:assert/strict";
import { EnvReader } from "../config.ts";
import { DEFAULT_AUTH_RATE_LIMITS, readAuthConfig } from "./config.ts";

Deno.test("auth config defaults follow the issue", () => {
  const r = new EnvReader({});
  const config = readAuthConfig(r);
  assert.deepEqual(r.problems, []);
  assert.equal(config.accessTtlSeconds, 900);
  assert.equal(config.verificationTtlSeconds, 86_400);
  assert.equal(config.resetTtlSeconds, 3600);
  assert.deepEqual(config.rateLimits, DEFAULT_AUTH_RATE_LIMITS);
  assert.deepEqual(config.rateLimits.loginIpEmail, { limit: 10, periodMs: 60_000 });
  assert.deepEqual(config.rateLimits.resendEmail, { limit: 3, periodMs: 3_600_000 });
});

Deno.test("auth config refuses what would weaken it, naming each variable", () => {
  const r = new EnvReader({
    TASKMESH_AUTH_ACCESS_TTL_SECONDS: "3600",
    TASKMESH_AUTH_REFRESH_IDLE_SECONDS: "90000",
    TASKMESH_AUTH_REFRESH_ABSOLUTE_SECONDS: "86400",
    TASKMESH_AUTH_KEY_SECRET: "short",
    TASKMESH_RATE_LOGIN_IP: "lots",
    TASKMESH_AUTH_JWKS_URL: "ftp://x",
  });
  readAuthConfig(r);
  const text = r.problems.join("\n");
  for (
    const name of [
      "TASKMESH_AUTH_ACCESS_TTL_SECONDS",
      "TASKMESH_AUTH_REFRESH_IDLE_SECONDS",
      "TASKMESH_AUTH_KEY_SECRET",
      "TASKMESH_RATE_LOGIN_IP",
      "TASKMESH_AUTH_JWKS_URL",
    ]
  ) assert.match(text, new RegExp(name));
});

Deno.test("rate limits are configurable", () => {
  const r = new EnvReader({ TASKMESH_RATE_REGISTER_IP: "20/1h" });
  assert.deepEqual(readAuthConfig(r).rateLimits.registerIp, { limit: 20, periodMs: 3_600_000 });
});
