/**
 * taskmesh.auth.v1.AuthService: accounts, sessions, signing keys, roles and API keys.
 * Who may call each method is decided before any of this runs, by the table in
 * server/authz/table.ts; the handlers check only what depends on the data.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import type { RouteFn } from "../deps.ts";
import { accountHandlers } from "./account_handlers.ts";
import { adminHandlers } from "./admin_handlers.ts";
import { apiKeyHandlers } from "./api_key_handlers.ts";
import { passwordChangeHandler } from "./password_change_handler.ts";
import { type AuthRuntime, authRuntimeFor } from "./runtime.ts";
import { sessionHandlers } from "./session_handlers.ts";

/** Registers the service with an explicit runtime (tests, or a process that built its own). */
export function registerAuthServiceWith(router: ConnectRouter, runtime: AuthRuntime): void {
  router.service(AuthService, {
    ...accountHandlers(runtime),
    ...sessionHandlers(runtime),
    ...adminHandlers(runtime),
    ...apiKeyHandlers(runtime),
    ...passwordChangeHandler(runtime),
  });
}

/** The route function server/services.ts lists; shares its runtime with `authRuntimeFor(deps).interceptor()`. */
export const registerAuthService: RouteFn = (router, deps) =>
  registerAuthServiceWith(router, authRuntimeFor(deps));
