/**
 * The generated clients the TUI talks through, over one HTTP/2 connection (gRPC), with
 * the credential put on every call by an interceptor. The TUI never imports `server/`.
 */
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AlertService } from "../../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagService } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { TaskService } from "../../gen/taskmesh/tasks/v1/tasks_pb.ts";
import { WorkerService } from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import type { Session } from "./session.ts";

export type AuthClient = Client<typeof AuthService>;
export type TaskClient = Client<typeof TaskService>;
export type WorkerClient = Client<typeof WorkerService>;
export type TagClient = Client<typeof TagService>;
export type CampaignClient = Client<typeof CampaignService>;
export type AlertClient = Client<typeof AlertService>;

export interface Clients {
  auth: AuthClient;
  tasks: TaskClient;
  workers: WorkerClient;
  tags: TagClient;
  campaigns: CampaignClient;
  alerts: AlertClient;
}

/** Every unary call gets a deadline; streams live as long as the view wants them. */
export const UNARY_TIMEOUT_MS = 15_000;

export function createTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createGrpcTransport({ baseUrl, interceptors });
}

/**
 * Puts the session's credential on every call. A unary call answered Unauthenticated
 * is retried once after a refresh (the token may have expired in flight); streams are
 * re-opened by their store, which asks for a fresh credential then.
 */
export function createAuthInterceptor(session: Session): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${await session.credential()}`);
    try {
      return await next(req);
    } catch (error) {
      if (
        req.stream || !session.canRefresh || !(error instanceof ConnectError) ||
        error.code !== Code.Unauthenticated
      ) throw error;
      await session.refresh();
      req.header.set("authorization", `Bearer ${await session.credential()}`);
      return await next(req);
    }
  };
}

/**
 * Clients that call as the session, over gRPC to `baseUrl` or over `transport` when
 * given (an in-process transport, for component tests that feed a view its data).
 */
export function createClients(baseUrl: string, session: Session, transport?: Transport): Clients {
  const t = transport ?? createTransport(baseUrl, [createAuthInterceptor(session)]);
  return {
    auth: createClient(AuthService, t),
    tasks: createClient(TaskService, t),
    workers: createClient(WorkerService, t),
    tags: createClient(TagService, t),
    alerts: createClient(AlertService, t),
    campaigns: createClient(CampaignService, t),
  };
}

/** The AuthService without credentials, for Login and Refresh (both public). */
export function createPublicAuthClient(baseUrl: string): AuthClient {
  return createClient(AuthService, createTransport(baseUrl));
}

/** A ConnectError's message without the "[code]" prefix, for the status line. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectError) {
    const code = Code[error.code]?.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() ?? "error";
    return error.rawMessage ? `${code}: ${error.rawMessage}` : code;
  }
  return error instanceof Error ? error.message : String(error);
}
