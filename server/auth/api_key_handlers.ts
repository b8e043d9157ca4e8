/**
 * API keys: CreateApiKey (the secret is shown once), ListApiKeys, RevokeApiKey.
 * People see and revoke their own keys; admins see and revoke everyone's.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { API_KEY_SCOPES, grantableScopes, isKnownScope } from "../authz/scopes.ts";
import { findApiKeyById, insertApiKey, listApiKeys, revokeApiKey } from "./api_key_queries.ts";
import { newApiKeySecret } from "./api_keys.ts";
import { requireUser } from "./caller.ts";
import { apiKeyToProto } from "./convert.ts";
import { audit, callFacts } from "./handler_support.ts";
import { decodePageToken, pageOf, pageSize } from "./paging.ts";
import type { AuthRuntime } from "./runtime.ts";
import { API_KEY_MAX_LIFETIME_MS, invalidArgument, requireName, requireUuid } from "./validate.ts";
import { timestamp } from "../kit/validate.ts";

type Handlers = Pick<ServiceImpl<typeof AuthService>, "createApiKey" | "listApiKeys" | "revokeApiKey">;

const KEY_NOT_FOUND = "API key not found: check the id with ListApiKeys";

export function apiKeyHandlers(runtime: AuthRuntime): Handlers {
  const { sql, clock } = runtime.options;

  return {
    async createApiKey(req, ctx) {
      const facts = callFacts(ctx);
      const caller = requireUser(ctx);
      const name = requireName(req.name, "name");
      if (req.scopes.length === 0) {
        throw invalidArgument(
          "scopes",
          `must name at least one scope: choose from ${API_KEY_SCOPES.join(", ")}`,
        );
      }
      const grantable = grantableScopes(caller.role) as readonly string[];
      req.scopes.forEach((scope, i) => {
        if (!isKnownScope(scope)) {
          throw invalidArgument(
            `scopes[${i}]`,
            `"${scope.slice(0, 64)}" is not a known scope: choose from ${API_KEY_SCOPES.join(", ")}`,
          );
        }
        if (!grantable.includes(scope)) {
          throw new ConnectError(
            `your role cannot grant the scope ${scope}: a key never does more than its creator`,
            Code.PermissionDenied,
          );
        }
      });
      const now = clock.now();
      let expiresAt: Date | null = null;
      if (req.expireTime) {
        const ms = timestamp("expire_time", req.expireTime, {
          max: now + API_KEY_MAX_LIFETIME_MS,
          says: "at most 10 years ahead, or none for no expiry",
        })!;
        if (ms <= now) {
          throw invalidArgument("expire_time", "is in the past: give a future time, or none for no expiry");
        }
        expiresAt = new Date(ms);
      }

      const { secret, prefix, hash } = await newApiKeySecret();
      const row = await sql.begin(async (tx) => {
        const row = await insertApiKey(tx, {
          id: crypto.randomUUID(),
          ownerId: caller.userId,
          name,
          scopes: [...new Set(req.scopes)],
          prefix,
          secretHash: hash,
          now: new Date(now),
          expiresAt,
        });
        await audit(runtime, tx, facts, {
          action: "auth.api_key.create",
          target: `key:${row.id}`,
          details: { name, scopes: row.scopes, expires: expiresAt?.toISOString() ?? null },
        });
        return row;
      });
      return { apiKey: apiKeyToProto(row), secret };
    },

    async listApiKeys(req, ctx) {
      const caller = requireUser(ctx);
      const size = pageSize(req.pageSize);
      const after = decodePageToken("api_keys", req.pageToken);
      const rows = await listApiKeys(sql, {
        ownerId: caller.role === "admin" ? undefined : caller.userId,
        includeRevoked: req.includeRevoked,
        after,
        limit: size + 1,
      });
      const page = pageOf(rows, size, "api_keys", (k) => ({ createdAt: k.created_at, id: k.id }));
      return { apiKeys: page.items.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },

    async revokeApiKey(req, ctx) {
      const facts = callFacts(ctx);
      const caller = requireUser(ctx);
      const id = requireUuid(req.id, "id");
      const existing = await findApiKeyById(sql, id);
      // Someone else's key answers as if it did not exist: ids are not a way to probe.
      if (!existing || (existing.owner_id !== caller.userId && caller.role !== "admin")) {
        throw new ConnectError(KEY_NOT_FOUND, Code.NotFound);
      }
      if (existing.revoked_at) return { apiKey: apiKeyToProto(existing) };
      const row = await sql.begin(async (tx) => {
        const row = await revokeApiKey(tx, id, new Date(clock.now()));
        await audit(runtime, tx, facts, {
          action: "auth.api_key.revoke",
          target: `key:${id}`,
          details: { name: existing.name },
        });
        return row!;
      });
      // Committed: every instance ends the streams this key holds.
      await runtime.revoked({ kind: "api_key", keyId: id });
      return { apiKey: apiKeyToProto(row) };
    },
  };
}
