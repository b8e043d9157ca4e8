/**
 * Alert rules and the alerts firing now (AlertService, two list calls). The server
 * evaluates the rules every TASKMESH_ALERTS_INTERVAL_MS and has no stream of alerts, so
 * while a view shows them they are read again every ALERTS_REFRESH_MS on the TUI's
 * clock, and at once on `r`. A failed read keeps what was shown, marked stale.
 */
import type { AlertRule, FiringAlert } from "../../gen/taskmesh/alerts/v1/alerts_pb.ts";
import { type Clients, describeError, UNARY_TIMEOUT_MS } from "./clients.ts";
import type { Clock } from "./clock.ts";
import { readPages } from "./sources.ts";

export const ALERTS_REFRESH_MS = 5_000;
/** A deployment has a handful of rules; the server caps them at 500. */
const MAX_ROWS = 500;

export interface AlertsState {
  rules: readonly AlertRule[];
  firing: readonly FiringAlert[];
  /** When what is shown was read (TUI clock ms); undefined before the first read. */
  readAt?: number;
  /** The last read failed: what is shown dates from readAt. */
  error?: string;
}

export class AlertsStore {
  #state: AlertsState = { rules: [], firing: [] };
  #listeners = new Set<() => void>();
  #viewers = 0;
  #stop?: AbortController;
  #reading?: Promise<void>;

  constructor(readonly clients: Clients, readonly clock: Clock) {}

  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getState = (): AlertsState => this.#state;

  /** Reads now and every ALERTS_REFRESH_MS while anyone shows them; returns the unshow. */
  show(): () => void {
    if (this.#viewers++ === 0) {
      const stop = new AbortController();
      this.#stop = stop;
      void this.#poll(stop.signal);
    }
    return () => {
      if (--this.#viewers === 0) this.#stop?.abort();
    };
  }

  async #poll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.read();
      await this.clock.sleep(ALERTS_REFRESH_MS, signal).catch(() => {});
    }
  }

  read(): Promise<void> {
    return this.#reading ??= this.#read().finally(() => this.#reading = undefined);
  }

  async #read(): Promise<void> {
    const call = { timeoutMs: UNARY_TIMEOUT_MS };
    try {
      const [rules, firing] = await Promise.all([
        readPages(async (pageToken) => {
          const r = await this.clients.alerts.listAlertRules({ pageSize: MAX_ROWS, pageToken }, call);
          return { items: r.rules, next: r.nextPageToken };
        }, MAX_ROWS),
        readPages(async (pageToken) => {
          const r = await this.clients.alerts.listFiringAlerts({ pageSize: MAX_ROWS, pageToken }, call);
          return { items: r.alerts, next: r.nextPageToken };
        }, MAX_ROWS),
      ]);
      this.#set({ rules: rules.items, firing: firing.items, readAt: this.clock.now() });
    } catch (error) {
      this.#set({ ...this.#state, error: describeError(error) });
    }
  }

  #set(state: AlertsState): void {
    this.#state = state;
    for (const listener of this.#listeners) listener();
  }
}
