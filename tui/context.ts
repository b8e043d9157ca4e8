/**
 * What views share: the data layer, and the UI services of the shell (confirm,
 * run-an-action-and-say-how-it-went, jump to a view, memory that outlives a view).
 * Data and actions stay in the data layer; this is only the glue.
 */
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { useStdout } from "ink";
import type { Capabilities } from "./data/capabilities.ts";
import type { DataLayer } from "./data/layer.ts";
import type { Connection, LiveStore } from "./data/live_store.ts";
import type { ViewId } from "./keys.ts";

export interface Ui {
  caps: Capabilities;
  /** Asks "question (y/n)"; on yes runs `work` and shows its result. */
  confirm(question: string, work: () => Promise<string>): void;
  /** Runs an action and shows its sentence, or its error, in the status line. */
  run(work: () => Promise<string>): Promise<boolean>;
  flash(text: string, level?: "info" | "error"): void;
  /** Switches view, first writing `remember` into the memory (e.g. the Tasks filter). */
  jump(view: ViewId, remember?: Record<string, unknown>): void;
  /** View state that survives switching views (selection, filters). */
  memory: Map<string, unknown>;
}

export const DataContext = createContext<DataLayer | undefined>(undefined);
export const UiContext = createContext<Ui | undefined>(undefined);

/** A view's key handler: returns true when it used the key. */
export type KeyHandler = (key: string, input: string) => boolean;
export const KeysContext = createContext<{ current: KeyHandler | undefined }>({ current: undefined });

export function useData(): DataLayer {
  const data = useContext(DataContext);
  if (!data) throw new Error("useData outside a DataContext provider");
  return data;
}

export function useUi(): Ui {
  const ui = useContext(UiContext);
  if (!ui) throw new Error("useUi outside a UiContext provider");
  return ui;
}

/** Registers the mounted view's key handler (the latest render's closure wins). */
export function useViewKeys(handler: KeyHandler): void {
  const slot = useContext(KeysContext);
  slot.current = handler;
  useEffect(() => () => {
    if (slot.current === handler) slot.current = undefined;
  });
}

/** A live store's state; starts the store on first use. */
export function useLive<S, E>(store: LiveStore<S, E>): S {
  useEffect(() => store.start(), [store]);
  return useSyncExternalStore(store.subscribe, store.getState);
}

export function useConnection(store: LiveStore<unknown, unknown>): Connection {
  return useSyncExternalStore(store.subscribe, store.getConnection);
}

/**
 * Since when (clock ms) the oldest of these stores' figures have been shown while its
 * stream is down, or undefined while every one is live (or has shown nothing yet).
 */
export function useStaleSince(
  stores: readonly (LiveStore<unknown, unknown> | undefined)[],
): number | undefined {
  return useSyncExternalStore(
    (listener) => {
      const offs = stores.map((s) => s?.subscribe(listener));
      return () => offs.forEach((off) => off?.());
    },
    () => {
      const since = stores.map((s) => s?.connection).map((c) =>
        c && (c.kind === "retrying" || c.kind === "connecting") ? c.staleSince : undefined
      ).filter((t) => t !== undefined);
      return since.length ? Math.min(...since) : undefined;
    },
  );
}

/** useState whose value is kept in the shell's memory under `key`. */
export function useRemembered<T>(key: string, initial: T): [T, (value: T) => void] {
  const { memory } = useUi();
  const [value, setValue] = useState<T>(() => (memory.has(key) ? memory.get(key) as T : initial));
  const set = (next: T) => {
    memory.set(key, next);
    setValue(next);
  };
  return [value, set];
}

/** The terminal's size, following resizes. */
export function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 100, rows: stdout.rows || 30 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  }, [stdout]);
  return size;
}

/**
 * The data layer's clock, re-read every `ms`: figures computed on it (recent rates)
 * follow it, and tests that move a manual clock see them move.
 */
export function useClockNow(ms = 1000): number {
  const { clock } = useData();
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return clock.now();
}

/** Now, re-read every `ms`, for ages that must keep counting (heartbeats). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now);
  const timer = useRef<ReturnType<typeof setInterval>>(undefined);
  useEffect(() => {
    timer.current = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer.current);
  }, [ms]);
  return now;
}
