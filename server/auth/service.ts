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
import { withBrowserSessions } from "./browser_sessions.ts";
import { passwordChangeHandler } from "./password_change_handler.ts";
import type { AuthRuntime } from "./runtime.ts";
import { sessionHandlers } from "./session_handlers.ts";

/** Registers the service with an explicit runtime (tests, or a process that built its own). */
export function registerAuthServiceWith(router: ConnectRouter, runtime: AuthRuntime): void {
  const impl = {
    ...accountHandlers(runtime),
    ...sessionHandlers(runtime),
    ...adminHandlers(runtime),
    ...apiKeyHandlers(runtime),
    ...passwordChangeHandler(runtime),
  };
  // Browsers ask for their refresh token in an HttpOnly cookie (browser_sessions.ts).
  router.service(
    AuthService,
    withBrowserSessions(impl, {
      publicUrl: runtime.options.publicUrl,
      now: () => runtime.options.clock.now(),
    }),
  );
}

/** The route function server/services.ts lists; shares the process's auth runtime with the app's interceptor. */
export const registerAuthService: RouteFn = (router, _deps, runtimes) =>
  registerAuthServiceWith(router, runtimes.auth);
