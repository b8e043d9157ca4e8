/**
 * The Connect-Web transport of the app: same origin, JSON (so every POST is a CORS
 * "non-simple" request), GET for NO_SIDE_EFFECTS methods, and two headers on every
 * call: the session mode that makes the server use the refresh cookie, and the bearer
 * access token when signed in.
 */
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Interceptor, Transport } from "@connectrpc/connect";
import type { Session } from "./session.ts";

export const SESSION_MODE_HEADER = "x-taskmesh-session";

const cookieMode: Interceptor = (next) => (req) => {
  req.header.set(SESSION_MODE_HEADER, "cookie");
  return next(req);
};

/** For the session's own calls (Login, Refresh, Logout): no bearer, or refreshing would wait on itself. */
export function sessionTransport(): Transport {
  return createConnectTransport({ baseUrl: location.origin, interceptors: [cookieMode] });
}

export function appTransport(session: Session): Transport {
  const bearer: Interceptor = (next) => async (req) => {
    const token = await session.accessToken();
    if (token && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({
    baseUrl: location.origin,
    useHttpGet: true,
    interceptors: [cookieMode, bearer],
  });
}
