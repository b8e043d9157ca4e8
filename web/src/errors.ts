/**
 * The server's own words, placed next to the field they are about. An INVALID_ARGUMENT
 * message starts with the field's proto name ("password must be at least 12
 * characters: …"); anything else is about the whole form.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export interface FormErrors {
  fields: Record<string, string>;
  form?: string;
}

export function formErrors(error: unknown, fields: readonly string[]): FormErrors {
  const e = ConnectError.from(error);
  const message = e.rawMessage;
  if (e.code === Code.InvalidArgument) {
    // Longest first, so "new_password" wins over a field named "password".
    const field = [...fields].sort((a, b) => b.length - a.length).find((f) => message.startsWith(`${f} `));
    if (field) return { fields: { [field]: sentence(message) } };
  }
  return { fields: {}, form: sentence(message) };
}

export function messageOf(error: unknown): string {
  return sentence(ConnectError.from(error).rawMessage);
}

function sentence(message: string): string {
  const text = message.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
