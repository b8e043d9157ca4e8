/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The member web app's entry: one Session (tokens in memory), Connect-Web clients from
 * gen/, connect-query over TanStack Query, and the shell.
 */
import { createRoot } from "react-dom/client";
import { createClient } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { App } from "./app.tsx";
import { SessionContext } from "./context.ts";
import { Session } from "./session.ts";
import { appTransport, sessionTransport } from "./transport.ts";
import "../styles.css";

const session = new Session(createClient(AuthService, sessionTransport()));
const transport = appTransport(session);
const queries = new QueryClient({
  defaultOptions: { queries: { retry: 1, staleTime: 10_000, refetchOnWindowFocus: true } },
});
// Whoever signs in next must not see the last person's cached answers.
session.subscribe(() => {
  if (session.state.kind === "signed-out") queries.clear();
});
void session.restore();

createRoot(document.getElementById("root")!).render(
  <SessionContext.Provider value={session}>
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queries}>
        <App />
      </QueryClientProvider>
    </TransportProvider>
  </SessionContext.Provider>,
);
