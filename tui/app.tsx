/**
 * The shell: a header of views, the active view, the key hints (or the `:` prompt, or
 * a confirmation), and the status line. It owns one key dispatcher: an open overlay
 * takes the key first, then the view, then the global keys.
 */
import { Box, Text, useApp, useInput } from "ink";
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { describeError } from "./data/clients.ts";
import { gap } from "./data/format.ts";
import type { DataLayer } from "./data/layer.ts";
import { DataContext, type KeyHandler, KeysContext, type Ui, UiContext, useTerminalSize } from "./context.ts";
import { globalActionFor, hintLine, keyPresses, type ViewId } from "./keys.ts";
import { editLine, TextField } from "./components/text_input.tsx";
import { StatusLine } from "./components/status_line.tsx";
import { HelpOverlay } from "./views/help.tsx";
import { findView, viewIndex, viewKey, viewOfKey, VIEWS } from "./views/registry.ts";

type Overlay =
  | { kind: "help" }
  | { kind: "command"; text: string }
  | { kind: "confirm"; question: string; work: () => Promise<string> };

type Flash = { text: string; level: "info" | "error" };

export interface AppProps {
  data: DataLayer;
  /** The view shown first (default overview). */
  initialView?: ViewId;
  /** Called on `q` (after the app unmounts). */
  onQuit?: () => void;
}

export function App({ data, initialView, onQuit }: AppProps) {
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const [view, setView] = useState<ViewId>(initialView ?? "overview");
  const [overlay, setOverlay] = useState<Overlay | undefined>();
  const [flash, setFlash] = useState<Flash | undefined>();
  const previous = useRef<ViewId[]>([]);
  const memory = useRef(new Map<string, unknown>()).current;
  const viewKeys = useRef<KeyHandler | undefined>(undefined);
  const identity = useSyncExternalStore(data.session.subscribe, () => data.session.identity);
  const caps = useMemo(() => data.capabilities(), [identity]);
  useEffect(() => data.queues.start(), []);
  useEffect(() => data.workers.start(), []);
  const flashTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(flashTimer.current), []);

  const say = (text: string, level: Flash["level"] = "info") => {
    setFlash({ text, level });
    clearTimeout(flashTimer.current);
    flashTimer.current = setTimeout(() => setFlash(undefined), 8000);
  };
  const go = (next: ViewId) => {
    if (next === view) return;
    previous.current = [...previous.current, view].slice(-20);
    setView(next);
  };
  const quit = () => {
    exit();
    onQuit?.();
  };
  const ui: Ui = {
    caps,
    memory,
    confirm: (question, work) => setOverlay({ kind: "confirm", question, work }),
    async run(work) {
      try {
        say(await work());
        return true;
      } catch (error) {
        say(describeError(error), "error");
        return false;
      }
    },
    flash: say,
    jump(next, remember) {
      for (const [k, v] of Object.entries(remember ?? {})) memory.set(k, v);
      go(next);
    },
  };

  // A key press must meet the state, overlay and view handler that the press before it
  // left behind. A press that arrives while the last one's render is still to come (typed
  // ahead, pasted) waits in a queue that is worked off one press per render.
  const presses = useRef<{ name: string; input: string }[]>([]);
  const rendering = useRef(false);
  const [tick, setTick] = useState(0);
  useInput((input, key) => {
    presses.current.push(...keyPresses(input, key));
    if (rendering.current || presses.current.length > 1) return setTick((t) => t + 1);
    const press = presses.current.shift()!;
    rendering.current = true;
    dispatch(press.name, press.input);
  });
  // After every commit (declared after useInput, so its handler is the fresh one by now).
  useEffect(() => {
    rendering.current = false;
  });
  useEffect(() => {
    const press = presses.current.shift();
    if (!press) return;
    rendering.current = true;
    dispatch(press.name, press.input);
    if (presses.current.length) setTick((t) => t + 1);
  }, [tick]);

  function dispatch(name: string, input: string) {
    if (overlay?.kind === "confirm") {
      if (name === "y" || name === "Y") {
        setOverlay(undefined);
        void ui.run(overlay.work);
      } else if (name === "n" || name === "N" || name === "esc") {
        setOverlay(undefined);
        say("cancelled: nothing was changed");
      }
      return;
    }
    if (overlay?.kind === "help") {
      if (name === "esc" || name === "?" || name === "q") setOverlay(undefined);
      return;
    }
    if (overlay?.kind === "command") {
      const edit = editLine(overlay.text, name, input);
      if (edit.done === "cancel") setOverlay(undefined);
      else if (edit.done === "submit") {
        setOverlay(undefined);
        command(edit.value);
      } else setOverlay({ kind: "command", text: edit.value });
      return;
    }
    if (name === "ctrl+c") return quit();
    if (viewKeys.current?.(name, input)) return;
    const index = viewIndex(view);
    switch (globalActionFor(name)) {
      case "help":
        return setOverlay({ kind: "help" });
      case "jump":
        return setOverlay({ kind: "command", text: "" });
      case "next-view":
        return go(VIEWS[(index + 1) % VIEWS.length].id);
      case "previous-view":
        return go(VIEWS[(index + VIEWS.length - 1) % VIEWS.length].id);
      case "view-number":
        return go(VIEWS[viewOfKey(name)]?.id ?? view);
      case "back": {
        const last = previous.current.at(-1);
        if (last) {
          previous.current = previous.current.slice(0, -1);
          setView(last);
        }
        return;
      }
      case "quit":
        return quit();
    }
  }

  function command(text: string) {
    const name = text.trim().toLowerCase();
    if (name === "q" || name === "quit" || name === "q!") return quit();
    if (name === "help") return setOverlay({ kind: "help" });
    const target = findView(name);
    if (target) go(target.id);
    else if (name) say(`no view called ${name}: try ${VIEWS.map((v) => v.id).join(", ")}`, "error");
  }

  // A long question wraps rather than lose its end (the y/n): the view gives up the rows.
  const footer = overlay?.kind === "confirm"
    ? Math.ceil((overlay.question.length + 4) / Math.max(1, columns))
    : 1;
  const bodyHeight = Math.max(5, rows - 4 - footer);
  const View = VIEWS[viewIndex(view)].component;
  return (
    <DataContext.Provider value={data}>
      <UiContext.Provider value={ui}>
        <KeysContext.Provider value={viewKeys}>
          <Box flexDirection="column" width={columns}>
            <Header
              width={columns}
              view={view}
              role={identity.role}
              mode={data.readOnly ? "READ-ONLY" : caps.operate ? undefined : "view only"}
            />
            <Box height={bodyHeight} flexDirection="column" overflow="hidden">
              {overlay?.kind === "help"
                ? <HelpOverlay view={view} caps={caps} readOnly={data.readOnly} width={columns} />
                : <View height={bodyHeight} width={columns} />}
            </Box>
            {overlay?.kind === "confirm"
              ? (
                <Text color="yellow" bold>
                  {overlay.question} <Text inverse>y</Text>/<Text inverse>n</Text>
                </Text>
              )
              : overlay?.kind === "command"
              ? (
                <TextField
                  label=":"
                  value={overlay.text}
                  focused
                  placeholder="view name (tasks, dead, workers…)"
                />
              )
              : <Text dimColor>{hintLine(view, caps).slice(0, columns - 1)}</Text>}
            <StatusLine
              stores={data.stores()}
              url={data.url}
              who={identity.who}
              flash={flash}
              width={columns}
            />
          </Box>
        </KeysContext.Provider>
      </UiContext.Provider>
    </DataContext.Provider>
  );
}

/**
 * The tab bar, always on one line: full names when they fit, else short ones, else
 * short ones without the space after the number (ten views at 80 columns); the active
 * view keeps its full name.
 */
function Header(props: { width: number; view: ViewId; role?: string; mode?: string }) {
  const tail = `  ${props.role ?? "api key"}${props.mode ? ` ${props.mode}` : ""}`;
  const label = (v: (typeof VIEWS)[number], i: number, level: number) =>
    level === 0 || v.id === props.view
      ? ` ${viewKey(i)} ${v.tab} `
      : level === 1
      ? ` ${viewKey(i)} ${v.short} `
      : ` ${viewKey(i)}${v.short}`;
  const width = (level: number) =>
    VIEWS.reduce((n, v, i) => n + label(v, i, level).length, "taskmesh".length) + tail.length;
  const level = [0, 1].find((l) => width(l) <= props.width) ?? 2;
  return (
    <Text wrap="truncate-end">
      <Text bold color="magenta">taskmesh</Text>
      {VIEWS.map((v, i) => (
        <Text key={v.id} inverse={v.id === props.view} bold={v.id === props.view}>
          {label(v, i, level)}
        </Text>
      ))}
      <Text dimColor>
        {gap(2)}
        {props.role ?? "api key"}
      </Text>
      {props.mode ? <Text color="yellow">{gap(1)}{props.mode}</Text> : null}
    </Text>
  );
}
