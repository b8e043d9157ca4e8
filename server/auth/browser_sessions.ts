/**
 * Sessions for browsers: the refresh token in a cookie the page's JavaScript cannot read.
 *
 * A request that carries `x-taskmesh-session: cookie` asks for it. Then Login, Refresh
 * and ChangePassword put the refresh token in an HttpOnly, SameSite=Strict cookie scoped
 * to the AuthService's path (Secure when the request or the public URL is https) and
 * answer with an empty `refresh_token`; Refresh and Logout read the token from that
 * cookie; Logout, LogoutAll and a refused Refresh clear it. Without the header nothing
 * changes: API clients keep the token in the body. The header is not in the CORS list of
 * allowed headers, so only pages of the server's own origin can ask for cookie sessions.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AuthService, TokenPairSchema } from "../../gen/taskmesh/auth/v1/auth_pb.ts";

export const SESSION_MODE_HEADER = "x-taskmesh-session";
export const REFRESH_COOKIE = "taskmesh_refresh";
/** Every AuthService method, and nothing else on the server, receives the cookie. */
export const REFRESH_COOKIE_PATH = "/taskmesh.auth.v1.AuthService";

type Impl = Partial<ServiceImpl<typeof AuthService>>;

export interface BrowserSessionOptions {
  /** The URL people reach the system at: https there means the cookie is Secure behind a TLS proxy too. */
  publicUrl: string;
  now(): number;
}

function cookieMode(ctx: HandlerContext): boolean {
  return ctx.requestHeader.get(SESSION_MODE_HEADER)?.trim().toLowerCase() === "cookie";
}

/**
 * The refresh token from the request's Cookie header, or "" when there is none. Two of
 * them mean a sibling (sub)domain planted one (cookie tossing): neither is trusted.
 */
export function readRefreshCookie(cookieHeader: string | null): string {
  const found: string[] = [];
  for (const part of (cookieHeader ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === REFRESH_COOKIE) found.push(part.slice(eq + 1).trim());
  }
  if (found.length > 1) {
    throw new ConnectError(
      `the request carries ${found.length} ${REFRESH_COOKIE} cookies, so which is yours cannot be told: ` +
        "clear this site's cookies (and its subdomains') and log in again",
      Code.Unauthenticated,
    );
  }
  return found[0] ?? "";
}

/** Wraps the AuthService implementation so browser clients get cookie sessions. */
export function withBrowserSessions<T extends Impl>(impl: T, options: BrowserSessionOptions): T {
  const secure = (ctx: HandlerContext) =>
    ctx.url.startsWith("https:") || options.publicUrl.startsWith("https:");

  const cookie = (ctx: HandlerContext, value: string, maxAgeSeconds: number) =>
    [
      `${REFRESH_COOKIE}=${value}`,
      `Path=${REFRESH_COOKIE_PATH}`,
      `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
      "HttpOnly",
      "SameSite=Strict",
      ...(secure(ctx) ? ["Secure"] : []),
    ].join("; ");

  const clear = (ctx: HandlerContext) => cookie(ctx, "", 0);

  /** Moves the refresh token of `tokens` into the cookie. */
  const keep = (ctx: HandlerContext, tokens: MessageInitShape<typeof TokenPairSchema> | undefined) => {
    if (!tokens?.refreshToken) return;
    const expires = tokens.refreshTokenExpireTime;
    const maxAge = expires ? (Number(expires.seconds) * 1000 - options.now()) / 1000 : 0;
    ctx.responseHeader.append("set-cookie", cookie(ctx, tokens.refreshToken, maxAge));
    tokens.refreshToken = "";
  };

  /** A refused session clears the cookie too, so the browser stops sending a dead token. */
  const clearOnUnauthenticated = (ctx: HandlerContext, error: unknown): never => {
    const e = ConnectError.from(error);
    if (e.code === Code.Unauthenticated) e.metadata.append("set-cookie", clear(ctx));
    throw e;
  };

  const wrapped: Impl = { ...impl };
  if (impl.login) {
    const login = impl.login.bind(impl);
    wrapped.login = async (req, ctx) => {
      const res = await login(req, ctx);
      if (cookieMode(ctx)) keep(ctx, res.tokens);
      return res;
    };
  }
  if (impl.refresh) {
    const refresh = impl.refresh.bind(impl);
    wrapped.refresh = async (req, ctx) => {
      if (!cookieMode(ctx)) return await refresh(req, ctx);
      const token = readRefreshCookie(ctx.requestHeader.get("cookie"));
      if (!token) {
        throw new ConnectError("no session cookie: log in again", Code.Unauthenticated);
      }
      try {
        const res = await refresh({ ...req, refreshToken: token }, ctx);
        keep(ctx, res.tokens);
        return res;
      } catch (error) {
        return clearOnUnauthenticated(ctx, error);
      }
    };
  }
  if (impl.logout) {
    const logout = impl.logout.bind(impl);
    wrapped.logout = async (req, ctx) => {
      if (!cookieMode(ctx)) return await logout(req, ctx);
      const token = readRefreshCookie(ctx.requestHeader.get("cookie"));
      ctx.responseHeader.append("set-cookie", clear(ctx));
      // No cookie: no session in this browser to end, which is what logging out asks for.
      return token ? await logout({ ...req, refreshToken: token }, ctx) : {};
    };
  }
  if (impl.logoutAll) {
    const logoutAll = impl.logoutAll.bind(impl);
    wrapped.logoutAll = async (req, ctx) => {
      const res = await logoutAll(req, ctx);
      if (cookieMode(ctx)) ctx.responseHeader.append("set-cookie", clear(ctx));
      return res;
    };
  }
  if (impl.changePassword) {
    const changePassword = impl.changePassword.bind(impl);
    wrapped.changePassword = async (req, ctx) => {
      const res = await changePassword(req, ctx);
      if (cookieMode(ctx)) keep(ctx, res.tokens);
      return res;
    };
  }
  return wrapped as T;
}
