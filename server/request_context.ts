/**
 * Per-call facts the transport knows and services may need: the request id that
 * ties log lines together, and the peer address rate limits key on.
 */
import { createContextKey } from "@connectrpc/connect";

export const requestIdKey = createContextKey<string>("", { description: "taskmesh request id" });

export const remoteAddressKey = createContextKey<string>("", { description: "taskmesh peer address" });
