/**
 * Authentication and authorization for every RPC: reads `authorization: Bearer …`
 * (an access JWT or a `tmk_` API key), puts the caller on the context, and enforces
 * the one table in table.ts before any service code runs.
 */
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { API_KEY_PREFIX } from "../auth/api_keys.ts";
import { ANONYMOUS, type Caller, callerKey } from "../auth/caller.ts";
import type { Logger } from "../log.ts";
import type { OpenStreams } from "./open_streams.ts";
import { checkPasswordChangeGate } from "./password_change_gate.ts";
import { decide, type Rule, ruleFor } from "./table.ts";
import { KeysUnavailableError, TokenError, type TokenVerifier } from "./token_verifier.ts";

/** What an API key resolves to; absent keys, revoked or expired ones resolve to undefined. */
export type ApiKeyLookup = (secret: string) => Promise<Extract<Caller, { kind: "api_key" }> | undefined>;

export interface AuthInterceptorOptions {
  /** Verifies access JWTs (createTokenVerifier over the key store or a remote JWKS). */
  verifyToken: TokenVerifier;
  /** Resolves API keys; without it, API keys are refused. */
  apiKeys?: ApiKeyLookup;
  log: Logger;
  /** Where streaming calls are registered by credential, so a revocation ends them. */
  streams?: OpenStreams;
  /** The rule lookup; the one table unless a test says otherwise. */
  ruleFor?: (service: string, method: string) => Rule | undefined;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

type Authenticated = { caller: Caller } | { invalid: "expired" | "invalid" };

export function createAuthInterceptor(options: AuthInterceptorOptions): Interceptor {
  const { verifyToken, apiKeys, log, streams } = options;
  const lookup = options.ruleFor ?? ruleFor;

  const authenticate = async (header: string | null): Promise<Authenticated> => {
    if (header === null) return { caller: ANONYMOUS };
    const credential = BEARER.exec(header)?.[1];
    if (!credential) return { invalid: "invalid" };
    if (credential.startsWith(API_KEY_PREFIX)) {
      const caller = apiKeys ? await apiKeys(credential) : undefined;
      return caller ? { caller } : { invalid: "invalid" };
    }
    try {
      const claims = await verifyToken(credential);
      return {
        caller: {
          kind: "user",
          userId: claims.userId,
          role: claims.role,
          scopes: claims.scopes,
          ...(claims.sessionId ? { sessionId: claims.sessionId } : {}),
          ...(claims.passwordChangeRequired ? { passwordChangeRequired: true } : {}),
        },
      };
    } catch (error) {
      if (error instanceof KeysUnavailableError) {
        log.error("access tokens cannot be verified", { error });
        throw new ConnectError("tokens cannot be verified right now: try again shortly", Code.Unavailable);
      }
      if (!(error instanceof TokenError)) throw error;
      log.debug("access token refused", { reason: error.reason });
      return { invalid: error.expired ? "expired" : "invalid" };
    }
  };

  return (next) => async (req) => {
    const rule = lookup(req.service.typeName, req.method.name);
    if (!rule) {
      log.error("call refused: the method has no authorization rule; add one to server/authz/table.ts", {
        method: `${req.service.typeName}/${req.method.name}`,
      });
      throw new ConnectError(
        "this method is not open to any caller: it has no authorization rule",
        Code.PermissionDenied,
      );
    }

    const result = await authenticate(req.header.get("authorization"));
    let caller: Caller;
    if ("caller" in result) {
      caller = result.caller;
    } else if ("public" in rule) {
      // A stale token sent along to Login or Refresh must not stop the call that replaces it.
      caller = ANONYMOUS;
    } else {
      throw new ConnectError(
        result.invalid === "expired"
          ? "access token has expired: refresh it or log in again"
          : "credentials are not valid: log in again, or check that the API key exists and is not revoked",
        Code.Unauthenticated,
      );
    }
    req.contextValues.set(callerKey, caller);

    switch (decide(rule, caller)) {
      case "allow":
        // Public methods answer as they would to anyone; the others wait for the password change.
        if (!("public" in rule)) checkPasswordChangeGate(caller, req.service.typeName, req.method.name);
        // A stream outlives the check above: it ends when its credential is revoked.
        if (req.stream && streams) {
          return await streams.guard(caller, req, next as (r: StreamRequest) => Promise<StreamResponse>);
        }
        return await next(req);
      case "unauthenticated":
        throw new ConnectError(
          "this method needs credentials: send authorization: Bearer <access token or API key>",
          Code.Unauthenticated,
        );
      case "denied":
        throw new ConnectError(
          caller.kind === "api_key"
            ? `this API key's scopes do not allow ${req.method.name}: create a key with the scope it needs`
            : `your role does not allow ${req.method.name}: ask an admin for a role that does`,
          Code.PermissionDenied,
        );
    }
  };
}
