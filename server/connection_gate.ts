/**
 * Admission of TCP connections: a cap on all open connections and a cap per client address.
 * A connection over either cap is closed at once, before a byte of it is read, so a client
 * cannot hold more of the process's file descriptors than its share.
 */
import type net from "node:net";
import type { Logger } from "./log.ts";
import { LogThrottle } from "./log_throttle.ts";
import type { Counter } from "./observability/metrics.ts";

export interface ConnectionCaps {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export type RefusalReason = "max_connections" | "max_connections_per_address";

export class ConnectionGate {
  #open = 0;
  readonly #perAddress = new Map<string, number>();
  readonly #throttle = new LogThrottle(10_000);

  constructor(readonly caps: ConnectionCaps, readonly log: Logger, readonly refused: Counter) {}

  get open(): number {
    return this.#open;
  }

  /** Counts the socket in until it closes; or destroys it and returns false when a cap is reached. */
  admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress ?? "";
    const fromAddress = this.#perAddress.get(address) ?? 0;
    const reason: RefusalReason | undefined = this.#open >= this.caps.maxConnections
      ? "max_connections"
      : fromAddress >= this.caps.maxConnectionsPerAddress
      ? "max_connections_per_address"
      : undefined;
    if (reason) {
      socket.destroy();
      this.refused.inc({ reason });
      this.#throttle.hit((occurrences) =>
        this.log.warn("connection refused: a connection cap is reached", {
          reason,
          address,
          open: this.#open,
          from_address: fromAddress,
          refused_since_last_line: occurrences,
          hint:
            "raise TASKMESH_MAX_CONNECTIONS or TASKMESH_MAX_CONNECTIONS_PER_ADDRESS if this load is legitimate",
        })
      );
      return false;
    }
    this.#open++;
    this.#perAddress.set(address, fromAddress + 1);
    socket.once("close", () => {
      this.#open--;
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, n);
    });
    return true;
  }
}
