/**
 * The TUI from the top: sign in (unless a session was handed in, e.g. from an API
 * key), build the data layer for that session, and run the shell. When the session
 * expires for good (the refresh token was refused), it asks for the password again.
 */
import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { Transport } from "@connectrpc/connect";
import { App } from "./app.tsx";
import type { BackoffOptions } from "./data/backoff.ts";
import type { Clock } from "./data/clock.ts";
import { createDataLayer } from "./data/layer.ts";
import type { Session } from "./data/session.ts";
import { signInWithPassword } from "./data/sign_in.ts";
import type { ViewId } from "./keys.ts";
import { LoginView } from "./views/login.tsx";
import { NotForYouView } from "./views/not_for_you.tsx";
import { capabilitiesOf } from "./data/capabilities.ts";

export interface RootProps {
  url: string;
  /** Skips the sign-in screen (API keys; tests). */
  session?: Session;
  email?: string;
  readOnly?: boolean;
  clock?: Clock;
  backoff?: BackoffOptions;
  maxTasks?: number;
  initialView?: ViewId;
  onQuit?: () => void;
  /** Calls go over this transport instead (component tests that feed a view its data). */
  transport?: Transport;
  campaignPollMs?: number;
}

const never = () => () => {};

export function Root(props: RootProps) {
  const [session, setSession] = useState<Session | undefined>(props.session);
  // An account that may not read tasks gets no data layer: every stream would be refused.
  const allowed = session !== undefined && capabilitiesOf(session.identity, false).readTasks;
  const data = useMemo(
    () =>
      session && allowed
        ? createDataLayer({
          url: props.url,
          session,
          readOnly: props.readOnly,
          clock: props.clock,
          backoff: props.backoff,
          maxTasks: props.maxTasks,
          transport: props.transport,
          campaignPollMs: props.campaignPollMs,
        })
        : undefined,
    [session],
  );
  useEffect(() => () => void data?.stop(), [data]);
  const state = useSyncExternalStore(session?.subscribe ?? never, () => session?.state);
  const signIn = (email: string, password: string) =>
    signInWithPassword(props.url, email, password, props.clock);

  if (session && !allowed && state?.kind !== "expired") {
    // Every view would be refused: say so, rather than show a shell that never loads.
    return (
      <NotForYouView
        url={props.url}
        identity={session.identity}
        onSignInAgain={session.canRefresh ? () => setSession(undefined) : undefined}
        onQuit={props.onQuit}
      />
    );
  }
  if (!session || !data || state?.kind === "expired") {
    return (
      <LoginView
        url={props.url}
        email={session?.identity.who ?? props.email}
        message={state?.kind === "expired" ? `session expired (${state.reason}): sign in again` : undefined}
        signIn={signIn}
        onSignedIn={setSession}
      />
    );
  }
  return <App data={data} initialView={props.initialView} onQuit={props.onQuit} />;
}
