/**
 * Roles as stored (lower-case strings) and as the contract spells them (the Role enum).
 */
import { Role as ProtoRole } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import type { Role } from "./caller.ts";

export const ROLES: readonly Role[] = ["member", "viewer", "operator", "admin"];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

const TO_PROTO: Record<Role, ProtoRole> = {
  member: ProtoRole.MEMBER,
  viewer: ProtoRole.VIEWER,
  operator: ProtoRole.OPERATOR,
  admin: ProtoRole.ADMIN,
};

export function roleToProto(role: Role): ProtoRole {
  return TO_PROTO[role];
}

/** The stored role for an enum value; undefined for UNSPECIFIED or a value this build does not know. */
export function roleFromProto(role: ProtoRole): Role | undefined {
  return ROLES.find((r) => TO_PROTO[r] === role);
}
