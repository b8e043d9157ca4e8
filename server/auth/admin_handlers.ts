/**
 * Keys and accounts, for admins (the table in server/authz decides who gets here):
 * GetJwks (public), RotateSigningKey, ListUsers, SetRole, DisableUser.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type AuthService, JwkSchema, Role as ProtoRole } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { revokeOwnerApiKeys } from "./api_key_queries.ts";
import { requireUser } from "./caller.ts";
import { userToProto } from "./convert.ts";
import { audit, callFacts } from "./handler_support.ts";
import { decodePageToken, pageOf, pageSize } from "./paging.ts";
import { roleFromProto } from "./roles.ts";
import type { AuthRuntime } from "./runtime.ts";
import { revokeUserRefreshFamilies } from "./session_queries.ts";
import {
  disableUser,
  findUserByIdForUpdate,
  listUsers,
  lockActiveAdmins,
  updateUserRole,
} from "./user_queries.ts";
import { EMAIL_MAX_LENGTH, invalidArgument, REASON_MAX_LENGTH, requireUuid } from "./validate.ts";
import { text } from "../kit/validate.ts";

type Handlers = Pick<
  ServiceImpl<typeof AuthService>,
  "getJwks" | "rotateSigningKey" | "listUsers" | "setRole" | "disableUser"
>;

const USER_NOT_FOUND = "user not found: check the id with ListUsers";

export function adminHandlers(runtime: AuthRuntime): Handlers {
  const { sql, clock } = runtime.options;

  return {
    async getJwks() {
      const keys = await runtime.keys.publishedKeys();
      return { keys: keys.map((k) => create(JwkSchema, k)) };
    },

    async rotateSigningKey(_req, ctx) {
      const facts = callFacts(ctx);
      const kid = await runtime.keys.rotate();
      await audit(runtime, sql, facts, { action: "auth.signing_key.rotate", target: `kid:${kid}` });
      return { kid };
    },

    async listUsers(req) {
      const size = pageSize(req.pageSize);
      const after = decodePageToken("users", req.pageToken);
      let role;
      if (req.role !== ProtoRole.UNSPECIFIED) {
        role = roleFromProto(req.role);
        if (!role) {
          throw invalidArgument("role", "is not a known role: use MEMBER, VIEWER, OPERATOR or ADMIN");
        }
      }
      const emailPrefix = text("email_prefix", req.emailPrefix.trim(), { max: EMAIL_MAX_LENGTH });
      const rows = await listUsers(sql, {
        role,
        emailPrefix: emailPrefix || undefined,
        after,
        limit: size + 1,
      });
      const page = pageOf(rows, size, "users", (u) => ({ createdAt: u.created_at, id: u.id }));
      return { users: page.items.map(userToProto), nextPageToken: page.nextPageToken };
    },

    async setRole(req, ctx) {
      const facts = callFacts(ctx);
      const userId = requireUuid(req.userId, "user_id");
      const role = roleFromProto(req.role);
      if (!role) throw invalidArgument("role", "is required: use MEMBER, VIEWER, OPERATOR or ADMIN");
      const user = await sql.begin(async (tx) => {
        const admins = await lockActiveAdmins(tx);
        const before = await findUserByIdForUpdate(tx, userId);
        if (!before) throw new ConnectError(USER_NOT_FOUND, Code.NotFound);
        if (before.role === "admin" && role !== "admin" && admins.length === 1 && admins[0] === userId) {
          throw new ConnectError(
            "this is the last admin: make another user admin before changing this one",
            Code.FailedPrecondition,
          );
        }
        const after = await updateUserRole(tx, userId, role);
        if (before.role !== role) {
          await audit(runtime, tx, facts, {
            action: "auth.role.set",
            target: `user:${userId}`,
            details: { from: before.role, to: role },
          });
        }
        return { after: after!, changed: before.role !== role };
      });
      // Committed: a key's scopes follow its owner's role, so no instance goes on trusting the old ones.
      if (user.changed) await runtime.revoked({ kind: "role", userId });
      return { user: userToProto(user.after) };
    },

    async disableUser(req, ctx) {
      const facts = callFacts(ctx);
      const caller = requireUser(ctx);
      const userId = requireUuid(req.userId, "user_id");
      const reason = text("reason", req.reason.trim(), { max: REASON_MAX_LENGTH });
      if (userId === caller.userId) {
        throw new ConnectError(
          "you cannot disable your own account: ask another admin",
          Code.FailedPrecondition,
        );
      }
      const now = new Date(clock.now());
      const user = await sql.begin(async (tx) => {
        const admins = await lockActiveAdmins(tx);
        const before = await findUserByIdForUpdate(tx, userId);
        if (!before) throw new ConnectError(USER_NOT_FOUND, Code.NotFound);
        if (admins.length === 1 && admins[0] === userId) {
          throw new ConnectError(
            "this is the last admin: make another user admin first",
            Code.FailedPrecondition,
          );
        }
        const after = await disableUser(tx, userId, reason, now);
        const sessions = await revokeUserRefreshFamilies(tx, userId, "user_disabled", now);
        const keys = await revokeOwnerApiKeys(tx, userId, now);
        await audit(runtime, tx, facts, {
          action: "auth.user.disable",
          target: `user:${userId}`,
          details: { reason, sessions_revoked: sessions, api_keys_revoked: keys },
        });
        return after!;
      });
      // Committed: every instance ends the streams of this user's tokens and keys.
      await runtime.revoked({ kind: "user", userId });
      return { user: userToProto(user) };
    },
  };
}
