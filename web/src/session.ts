/**
 * The signed-in session, as OWASP's cheat sheets want it in a browser: the access token
 * lives in this object's memory only (never in localStorage or sessionStorage); the
 * refresh token is an HttpOnly cookie the server sets and reads, which no script here
 * can see. The access token is refreshed silently at three quarters of its life.
 */
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { AuthService, TokenPair, User } from "../../gen/taskmesh/auth/v1/auth_pb.ts";

export type SessionState =
  | { kind: "restoring" }
  | { kind: "signed-out" }
  | { kind: "signed-in"; user: User };

export class Session {
  #auth: Client<typeof AuthService>;
  #state: SessionState = { kind: "restoring" };
  #access: { token: string; expiresAt: number } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<boolean> | undefined;
  #listeners = new Set<() => void>();

  constructor(auth: Client<typeof AuthService>) {
    this.#auth = auth;
  }

  get state(): SessionState {
    return this.#state;
  }

  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): SessionState => this.#state;

  #set(state: SessionState) {
    this.#state = state;
    for (const listener of this.#listeners) listener();
  }

  /** On page load: the cookie (if any) gives a new access token without asking for a password. */
  async restore(): Promise<void> {
    try {
      if (await this.refresh()) return await this.#loadUser();
    } catch {
      // A session that cannot say who it is (a first admin's one-time password): log in again.
    }
    this.#clear();
  }

  async login(email: string, password: string): Promise<void> {
    const res = await this.#auth.login({ email, password });
    this.#keep(res.tokens);
    if (res.user) this.#set({ kind: "signed-in", user: res.user });
    else await this.#loadUser();
  }

  /** After ChangePassword: the server answered with a fresh session for this browser. */
  async adopt(tokens: TokenPair | undefined): Promise<void> {
    this.#keep(tokens);
    await this.#loadUser();
  }

  async #loadUser(): Promise<void> {
    const me = await this.#auth.getMe({}, { headers: this.authHeaders() });
    if (me.user) this.#set({ kind: "signed-in", user: me.user });
    else this.#clear();
  }

  #keep(tokens: TokenPair | undefined) {
    if (!tokens?.accessToken) return;
    const expiresAt = tokens.accessTokenExpireTime
      ? timestampMs(tokens.accessTokenExpireTime)
      : Date.now() + 60_000;
    this.#access = { token: tokens.accessToken, expiresAt };
    clearTimeout(this.#timer);
    const refreshIn = Math.max(5_000, (expiresAt - Date.now()) * 0.75);
    this.#timer = setTimeout(() => void this.refresh(), refreshIn);
  }

  /** Rotates the cookie and takes the new access token; false when there is no live session. */
  refresh(): Promise<boolean> {
    this.#refreshing ??= (async () => {
      try {
        const res = await this.#auth.refresh({});
        this.#keep(res.tokens);
        return true;
      } catch (error) {
        if (ConnectError.from(error).code === Code.Unauthenticated) this.#clear();
        return false;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string | undefined> {
    if (this.#access && this.#access.expiresAt - Date.now() < 10_000) await this.refresh();
    return this.#access?.token;
  }

  authHeaders(): Record<string, string> {
    return this.#access ? { authorization: `Bearer ${this.#access.token}` } : {};
  }

  async logout(): Promise<void> {
    try {
      await this.#auth.logout({});
    } finally {
      this.#clear();
    }
  }

  async logoutEverywhere(): Promise<number> {
    const token = await this.accessToken();
    const res = await this.#auth.logoutAll({}, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    this.#clear();
    return res.revokedSessions;
  }

  #clear() {
    clearTimeout(this.#timer);
    this.#access = undefined;
    if (this.#state.kind !== "signed-out") this.#set({ kind: "signed-out" });
  }
}
