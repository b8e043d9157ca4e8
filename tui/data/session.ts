/**
 * Who the operator is and the credential every call carries: an API key, or an access
 * token with its refresh token. Access tokens are refreshed before they expire (a loop
 * wakes at three quarters of their life), and on demand when a call finds one
 * expired, so a long-running TUI never makes the operator sign in again while the
 * refresh family lives.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { Role as ProtoRole, type TokenPair } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import type { AuthClient } from "./clients.ts";
import { backoffDelay } from "./backoff.ts";
import { type Clock, systemClock } from "./clock.ts";

export type Role = "member" | "viewer" | "operator" | "admin";

export interface Identity {
  /** What the status line shows: the email, or the API key's prefix. */
  who: string;
  /** The signed-in user's role; undefined for API keys. */
  role?: Role;
  /** Scopes an API key holds (empty for users: their role decides). */
  scopes: readonly string[];
}

export type SessionState = { kind: "active" } | { kind: "expired"; reason: string };

const ROLE_NAMES: Record<number, Role | undefined> = {
  [ProtoRole.MEMBER]: "member",
  [ProtoRole.VIEWER]: "viewer",
  [ProtoRole.OPERATOR]: "operator",
  [ProtoRole.ADMIN]: "admin",
};

export function roleFromProto(role: ProtoRole): Role | undefined {
  return ROLE_NAMES[role];
}

/** The `role` claim of an access JWT, read without verifying (the server verifies). */
export function roleFromJwt(token: string): Role | undefined {
  try {
    const payload = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    const claims = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "=")));
    return ["member", "viewer", "operator", "admin"].includes(claims.role) ? claims.role : undefined;
  } catch {
    return undefined;
  }
}

interface Tokens {
  access: string;
  refresh: string;
  /** When the access token expires, ms since the epoch. */
  expiresAt: number;
  /** When we received it, so refreshes are planned on its life, not on a fixed margin. */
  receivedAt: number;
}

export class SessionExpiredError extends Error {
  constructor(reason: string) {
    super(`session expired: ${reason} — sign in again`);
  }
}

export class Session {
  #identity: Identity;
  #tokens: Tokens | undefined;
  #apiKey: string | undefined;
  #auth: AuthClient | undefined;
  #clock: Clock;
  #refreshing: Promise<void> | undefined;
  #state: SessionState = { kind: "active" };
  #listeners = new Set<() => void>();
  /** How many refreshes succeeded; tests and the status line read it. */
  refreshes = 0;

  private constructor(
    identity: Identity,
    credential: { apiKey: string } | { tokens: Tokens; auth: AuthClient },
    clock: Clock,
  ) {
    this.#identity = identity;
    this.#clock = clock;
    if ("apiKey" in credential) this.#apiKey = credential.apiKey;
    else {
      this.#tokens = credential.tokens;
      this.#auth = credential.auth;
    }
  }

  static fromApiKey(apiKey: string, scopes: readonly string[], clock: Clock = systemClock): Session {
    return new Session({ who: `API key ${apiKey.slice(0, 8)}…`, scopes }, { apiKey }, clock);
  }

  static fromTokens(
    email: string,
    pair: TokenPair,
    auth: AuthClient,
    clock: Clock = systemClock,
  ): Session {
    const tokens = tokensFrom(pair, clock.now());
    return new Session({ who: email, role: roleFromJwt(tokens.access), scopes: [] }, { tokens, auth }, clock);
  }

  get identity(): Identity {
    return this.#identity;
  }

  get state(): SessionState {
    return this.#state;
  }

  get canRefresh(): boolean {
    return this.#tokens !== undefined && this.#state.kind === "active";
  }

  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** The bearer credential for the next call, refreshing first when the access token is due. */
  async credential(): Promise<string> {
    if (this.#apiKey !== undefined) return this.#apiKey;
    if (this.#state.kind === "expired") throw new SessionExpiredError(this.#state.reason);
    if (this.#clock.now() >= this.#refreshAt()) await this.refresh();
    return this.#tokens!.access;
  }

  /** Rotates the refresh token; concurrent callers share one Refresh call. */
  refresh(): Promise<void> {
    if (!this.#tokens || !this.#auth) return Promise.resolve();
    if (this.#state.kind === "expired") return Promise.reject(new SessionExpiredError(this.#state.reason));
    return this.#refreshing ??= (async () => {
      try {
        const { tokens } = await this.#auth!.refresh({ refreshToken: this.#tokens!.refresh }, {
          timeoutMs: 15_000,
        });
        if (!tokens) throw new ConnectError("Refresh answered without tokens", Code.Internal);
        this.#tokens = tokensFrom(tokens, this.#clock.now());
        this.#identity = { ...this.#identity, role: roleFromJwt(this.#tokens.access) ?? this.#identity.role };
        this.refreshes++;
        this.#emit();
      } catch (error) {
        // The refresh token itself was refused: no retry can help, the operator must sign in.
        if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
          this.#state = { kind: "expired", reason: error.rawMessage };
          this.#emit();
          throw new SessionExpiredError(error.rawMessage);
        }
        throw error;
      } finally {
        this.#refreshing = undefined;
      }
    })();
  }

  /**
   * Keeps the access token fresh until `signal` aborts: streams opened with it stay
   * authorised and the next unary call never waits for a refresh.
   */
  async keepFresh(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted && this.#tokens && this.#state.kind === "active") {
      const wait = failures > 0
        ? backoffDelay(failures - 1, { initialMs: 1000, maxMs: 30_000 })
        : this.#refreshAt() - this.#clock.now();
      try {
        await this.#clock.sleep(Math.max(0, wait), signal);
        await this.refresh();
        failures = 0;
      } catch (error) {
        if (signal.aborted || error instanceof SessionExpiredError) return;
        failures++;
      }
    }
  }

  #refreshAt(): number {
    const t = this.#tokens!;
    return t.expiresAt - (t.expiresAt - t.receivedAt) / 4;
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}

function tokensFrom(pair: TokenPair, now: number): Tokens {
  const expiresAt = pair.accessTokenExpireTime ? timestampMs(pair.accessTokenExpireTime) : now + 60_000;
  return { access: pair.accessToken, refresh: pair.refreshToken, expiresAt, receivedAt: now };
}
