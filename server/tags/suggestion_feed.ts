/**
 * The live feed behind WatchSuggestions: every server instance publishes suggestion events
 * and every instance's watchers receive them. On Postgres the feed is LISTEN/NOTIFY, so
 * instances share nothing but the database. The embedded PGlite, served over our own socket
 * server as one backend session that every client shares, does not deliver notifications to
 * the listening connection, so there the feed stays in-process — which is complete, because the
 * embedded mode is one server process by construction.
 */
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { Sql } from "../db/postgres.ts";
import type { Logger } from "../log.ts";
import {
  type Suggestion,
  SuggestionEventKind,
  SuggestionSchema,
} from "../../gen/taskmesh/tags/v1/tags_pb.ts";

export interface SuggestionEvent {
  kind: SuggestionEventKind.SUGGESTED | SuggestionEventKind.DECIDED;
  suggestion: Suggestion;
}

export type SuggestionListener = (event: SuggestionEvent) => void;

export interface SuggestionBus {
  /** Sends the event to every watcher of every instance; call it after the change committed. */
  publish(event: SuggestionEvent): Promise<void>;
  /**
   * Delivers every later event to `listener`; resolves once delivery is live, with the
   * function that stops it. `onGap` is called when events may have been lost (the feed's
   * connection was re-established), so a watcher can tell its client to resynchronise.
   */
  subscribe(listener: SuggestionListener, onGap?: () => void): Promise<() => void>;
}

/** A bus for one process. */
export function createMemorySuggestionBus(): SuggestionBus {
  const listeners = new Set<SuggestionListener>();
  return {
    publish(event) {
      for (const listener of [...listeners]) listener(event);
      return Promise.resolve();
    },
    subscribe(listener) {
      listeners.add(listener);
      return Promise.resolve(() => void listeners.delete(listener));
    },
  };
}

export interface PostgresBusOptions {
  log: Logger;
  /** Reads a suggestion whose event was too large to travel inline. */
  load(id: string): Promise<Suggestion | undefined>;
}

// NOTIFY payloads must stay under 8000 bytes; larger events travel as an id and are re-read.
const INLINE_PAYLOAD_LIMIT = 7000;
const CHANNEL_PREFIX = "tm_tag_suggestions_";

interface Payload {
  k: SuggestionEvent["kind"];
  s?: JsonValue;
  id?: string;
}

/**
 * The channel is per schema: NOTIFY is database-wide, and test schemas (or two deployments
 * sharing a database) must not see each other's events. Identifiers stop at 63 bytes, so a
 * long schema name is hashed.
 */
async function channelName(sql: Sql): Promise<string> {
  const [{ schema }] = await sql<{ schema: string }[]>`select current_schema() as schema`;
  const plain = CHANNEL_PREFIX + schema;
  if (new TextEncoder().encode(plain).length <= 63) return plain;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(schema));
  return CHANNEL_PREFIX +
    Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A bus over LISTEN/NOTIFY, shared by every instance on the same database and schema. The
 * instance LISTENs once, on the first watcher, and keeps listening until the pool ends: one
 * idle connection, and no unlisten/relisten interplay with the driver's reconnects.
 */
export function createPostgresSuggestionBus(sql: Sql, options: PostgresBusOptions): SuggestionBus {
  const { log, load } = options;
  const subscribers = new Set<{ listener: SuggestionListener; onGap?: () => void }>();
  let channel: Promise<string> | undefined;
  let listening: Promise<unknown> | undefined;
  let listens = 0;
  // Events (and gaps) reach subscribers in arrival order, even when one must be re-read first.
  let delivery: Promise<void> = Promise.resolve();

  const channelOnce = () => (channel ??= channelName(sql));

  const inOrder = (step: () => Promise<void> | void) => {
    delivery = delivery.then(step).catch((error) => {
      log.warn("suggestion event dropped: it could not be read", { error });
    });
  };

  const onPayload = (raw: string) =>
    inOrder(async () => {
      const payload = JSON.parse(raw) as Payload;
      const suggestion = payload.s !== undefined
        ? fromJson(SuggestionSchema, payload.s)
        : payload.id !== undefined
        ? await load(payload.id)
        : undefined;
      if (!suggestion) return;
      for (const { listener } of [...subscribers]) listener({ kind: payload.k, suggestion });
    });

  // The driver re-LISTENs after its connection drops and calls this again; whatever was
  // notified in between is lost, so the watchers are told.
  const onListen = () => {
    if (++listens === 1) return;
    log.warn("suggestion feed reconnected: live watchers are asked to resynchronise");
    inOrder(() => {
      for (const { onGap } of [...subscribers]) onGap?.();
    });
  };

  return {
    async publish(event) {
      const inline = JSON.stringify({ k: event.kind, s: toJson(SuggestionSchema, event.suggestion) });
      const payload = new TextEncoder().encode(inline).length <= INLINE_PAYLOAD_LIMIT
        ? inline
        : JSON.stringify({ k: event.kind, id: event.suggestion.id });
      await sql.notify(await channelOnce(), payload);
    },
    async subscribe(listener, onGap) {
      const subscriber = { listener, onGap };
      subscribers.add(subscriber);
      try {
        listening ??= channelOnce().then((name) => sql.listen(name, onPayload, onListen));
        await listening;
      } catch (error) {
        subscribers.delete(subscriber);
        listening = undefined;
        throw error;
      }
      return () => void subscribers.delete(subscriber);
    },
  };
}

/**
 * The bus that fits the database behind `sql`: LISTEN/NOTIFY on Postgres, in-process on the
 * embedded PGlite (recognised from version()). The check runs once, on first use.
 */
export function createSuggestionBus(sql: Sql, options: PostgresBusOptions): SuggestionBus {
  let chosen: Promise<SuggestionBus> | undefined;
  const bus = () =>
    chosen ??= sql<{ version: string }[]>`select version() as version`.then(([{ version }]) => {
      if (/pglite/i.test(version)) {
        options.log.info(
          "suggestion events stay in this process: the embedded database has no LISTEN/NOTIFY",
        );
        return createMemorySuggestionBus();
      }
      return createPostgresSuggestionBus(sql, options);
    }).catch((error) => {
      chosen = undefined;
      throw error;
    });
  return {
    publish: async (event) => (await bus()).publish(event),
    subscribe: async (listener, onGap) => (await bus()).subscribe(listener, onGap),
  };
}
