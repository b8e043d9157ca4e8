/**
 * What an account that cannot read queues, tasks or workers (a member, an API key
 * without tasks:read) sees instead of a shell that could never load: what the TUI is
 * for, what to use instead, and a way out.
 */
import { Box, Text, useApp, useInput } from "ink";
import { useEffect, useState } from "react";
import { gap } from "../data/format.ts";
import type { Identity } from "../data/session.ts";
import { keyPresses } from "../keys.ts";

export function NotForYouView(props: {
  url: string;
  identity: Identity;
  /** Back to the sign-in screen; absent when there is none to go back to (an API key). */
  onSignInAgain?: () => void;
  onQuit?: () => void;
}) {
  const { exit } = useApp();
  const quit = () => {
    exit();
    props.onQuit?.();
  };
  useInput((input, key) => {
    for (const { name } of keyPresses(input, key)) {
      if (name === "q" || name === "esc" || name === "ctrl+c") return quit();
      if (name === "enter" && props.onSignInAgain) return props.onSignInAgain();
    }
  });
  // The keys line shows once the key handler above is listening (effects run in order).
  const [listening, setListening] = useState(false);
  useEffect(() => setListening(true), []);
  const { identity } = props;
  const who = identity.role
    ? `${identity.who}, a ${identity.role}`
    : `an API key (${identity.who}) without the tasks:read scope`;
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={2} width={76}>
      <Text bold color="magenta">taskmesh — the operator TUI is for operators</Text>
      <Text>{gap(1)}</Text>
      <Text>Signed in as {who}.</Text>
      <Text>
        This TUI is for viewers, operators and admins: it shows queues, tasks and workers, which this account
        cannot read.
      </Text>
      <Text>{gap(1)}</Text>
      <Text>
        Use the web app instead: open <Text bold>{props.url}</Text> in a browser.
      </Text>
      <Text dimColor>To watch the queues, ask an admin for the viewer role (or a key with tasks:read).</Text>
      <Text>{gap(1)}</Text>
      <Text dimColor>
        {listening
          ? `${props.onSignInAgain ? "enter signs in as someone else · " : ""}q or esc quits`
          : gap(1)}
      </Text>
    </Box>
  );
}
