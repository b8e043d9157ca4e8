/** Sign-in: email and a masked password, then AuthService.Login. */
import { Box, Text, useApp, useInput } from "ink";
import { useEffect, useReducer, useRef, useState } from "react";
import { describeError } from "../data/clients.ts";
import { gap } from "../data/format.ts";
import type { Session } from "../data/session.ts";
import { editLine, TextField } from "../components/text_input.tsx";
import { keyPresses } from "../keys.ts";

interface Form {
  email: string;
  password: string;
  field: "email" | "password";
  busy: boolean;
  error?: string;
}

export function LoginView(props: {
  url: string;
  email?: string;
  message?: string;
  signIn: (email: string, password: string) => Promise<Session>;
  onSignedIn: (session: Session) => void;
}) {
  const { exit } = useApp();
  // The form lives in a ref: keys typed ahead of a render must see what the keys before them did.
  const form = useRef<Form>({
    email: props.email ?? "",
    password: "",
    field: props.email ? "password" : "email",
    busy: false,
    error: props.message,
  });
  const [, render] = useReducer((n: number) => n + 1, 0);
  const set = (change: Partial<Form>) => {
    Object.assign(form.current, change);
    render();
  };

  const submit = async () => {
    const { email, password } = form.current;
    set({ busy: true, error: undefined });
    try {
      props.onSignedIn(await props.signIn(email.trim(), password));
    } catch (e) {
      set({ busy: false, password: "", error: `sign-in failed: ${describeError(e)}` });
    }
  };

  const onKey = (name: string, input: string) => {
    const f = form.current;
    if (name === "ctrl+c") return exit();
    if (f.busy) return;
    if (name === "tab" || name === "shift+tab" || name === "up" || name === "down") {
      return set({ field: f.field === "email" ? "password" : "email" });
    }
    const edit = editLine(f[f.field], name, input);
    if (edit.done === "cancel") return exit();
    if (edit.done === "submit") {
      if (f.field === "email") return f.email.trim() ? set({ field: "password" }) : undefined;
      if (!f.email.trim()) return set({ field: "email" });
      if (f.password) void submit();
      return;
    }
    set({ [f.field]: edit.value });
  };
  useInput((input, key) => {
    for (const press of keyPresses(input, key)) onKey(press.name, press.input);
  });

  // The keys line shows once the key handler above is listening (effects run in order):
  // keys sent before that, while the screen before this one unmounted, would be lost.
  const [listening, setListening] = useState(false);
  useEffect(() => setListening(true), []);
  const f = form.current;
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={2} width={70}>
      <Text bold color="magenta">taskmesh — sign in</Text>
      <Text dimColor>{props.url}</Text>
      <Text>{gap(1)}</Text>
      <TextField label="Email     " value={f.email} focused={f.field === "email"} />
      <TextField label="Password  " value={f.password} focused={f.field === "password"} mask />
      <Text>{gap(1)}</Text>
      {f.busy
        ? <Text color="yellow">signing in…</Text>
        : f.error
        ? <Text color="red">{f.error}</Text>
        : <Text dimColor>{listening ? "enter to continue · tab switches field · esc quits" : gap(1)}</Text>}
    </Box>
  );
}
