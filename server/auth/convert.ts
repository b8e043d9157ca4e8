/**
 * Rows to contract messages. Secrets and hashes never leave through here: the row
 * types that carry them are not accepted.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ApiKey,
  ApiKeySchema,
  type TokenPair,
  TokenPairSchema,
  type User,
  UserSchema,
} from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import type { ApiKeyRow } from "./api_key_queries.ts";
import { roleToProto } from "./roles.ts";
import type { UserRow } from "./user_queries.ts";

export function userToProto(row: Omit<UserRow, "password_hash">): User {
  return create(UserSchema, {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    role: roleToProto(row.role),
    emailVerified: row.email_verified_at !== null,
    disabled: row.disabled_at !== null,
    createTime: timestampFromMs(row.created_at.getTime()),
    lastLoginTime: row.last_login_at ? timestampFromMs(row.last_login_at.getTime()) : undefined,
    passwordChangeRequired: row.password_change_required,
  });
}

export function apiKeyToProto(row: ApiKeyRow): ApiKey {
  return create(ApiKeySchema, {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    prefix: row.prefix,
    ownerId: row.owner_id,
    createTime: timestampFromMs(row.created_at.getTime()),
    expireTime: row.expires_at ? timestampFromMs(row.expires_at.getTime()) : undefined,
    lastUsedTime: row.last_used_at ? timestampFromMs(row.last_used_at.getTime()) : undefined,
    revokeTime: row.revoked_at ? timestampFromMs(row.revoked_at.getTime()) : undefined,
  });
}

export function tokenPair(
  access: { token: string; expiresAt: number },
  refresh: { token: string; expiresAt: number },
): TokenPair {
  return create(TokenPairSchema, {
    accessToken: access.token,
    accessTokenExpireTime: timestampFromMs(access.expiresAt),
    refreshToken: refresh.token,
    refreshTokenExpireTime: timestampFromMs(refresh.expiresAt),
  });
}
