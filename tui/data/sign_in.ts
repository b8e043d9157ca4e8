/**
 * The two ways in: email and password (AuthService.Login), or an API key whose scopes
 * GetMe tells us. Both end in a Session the clients call as.
 */
import { createClient } from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { createPublicAuthClient, createTransport, UNARY_TIMEOUT_MS } from "./clients.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Session } from "./session.ts";

export async function signInWithPassword(
  url: string,
  email: string,
  password: string,
  clock: Clock = systemClock,
): Promise<Session> {
  const auth = createPublicAuthClient(url);
  const { tokens } = await auth.login({ email, password }, { timeoutMs: UNARY_TIMEOUT_MS });
  if (!tokens) throw new Error("the server answered Login without tokens");
  return Session.fromTokens(email, tokens, auth, clock);
}

export async function signInWithApiKey(
  url: string,
  apiKey: string,
  clock: Clock = systemClock,
): Promise<Session> {
  const auth = createClient(AuthService, createTransport(url));
  const me = await auth.getMe({}, {
    headers: { authorization: `Bearer ${apiKey}` },
    timeoutMs: UNARY_TIMEOUT_MS,
  });
  return Session.fromApiKey(apiKey, me.scopes, clock);
}
