/**
 * Where mail goes: an SMTP server when SMTP_URL is set, otherwise .eml files in the
 * outbox folder so the default run never needs a mail server. The server and the
 * worker read the same variables, so one environment configures both.
 */

export interface MailConfig {
  /** smtp:// or smtps:// URL with optional credentials; unset writes mail to the outbox. */
  smtpUrl?: string;
  /** The From header of every mail that does not name its own. */
  from: string;
  /** Folder that receives .eml files when no SMTP server is configured. */
  outboxDir: string;
}

/**
 * What readMailConfig needs of an environment reader. The server's EnvReader
 * (server/config.ts) is one; mail/ may not import it, so it names the shape instead.
 */
export interface MailEnvReader {
  /** The trimmed value, or `fallback` when unset or empty. */
  string(name: string, fallback: string): string;
  /** The value when it is a URL with one of `protocols`; records a problem otherwise. */
  url(name: string, protocols: readonly string[]): string | undefined;
  /** Records a problem found by a cross-field check. */
  problem(message: string): void;
}

export const DEFAULT_MAIL_FROM = "taskmesh <no-reply@taskmesh.localhost>";
export const DEFAULT_DATA_DIR = ".data";

export function readMailConfig(r: MailEnvReader, dataDir: string): MailConfig {
  const from = r.string("TASKMESH_MAIL_FROM", DEFAULT_MAIL_FROM);
  // A From without an address is rejected by most servers long after start; say so now.
  if (!hasAddress(from)) {
    r.problem(
      `TASKMESH_MAIL_FROM must contain an email address like "taskmesh <no-reply@example.com>", got "${from}"`,
    );
  }
  return {
    smtpUrl: r.url("SMTP_URL", ["smtp:", "smtps:"]),
    from,
    outboxDir: r.string("TASKMESH_MAIL_OUTBOX_DIR", `${dataDir.replace(/\/+$/, "")}/outbox`),
  };
}

/** True when `address` holds something@domain (bare, or inside a display name's <…>). */
export function hasAddress(address: string): boolean {
  return /@[^\s@>]+/.test(address);
}

/**
 * The mail configuration of a process without the server's EnvReader (the worker):
 * the same variables and defaults, TASKMESH_DATA_DIR included, and every problem
 * collected rather than thrown.
 */
export function mailConfigFromEnv(env: Record<string, string | undefined>): {
  mail: MailConfig;
  problems: string[];
} {
  const reader = new SimpleEnvReader(env);
  const mail = readMailConfig(reader, reader.string("TASKMESH_DATA_DIR", DEFAULT_DATA_DIR));
  return { mail, problems: reader.problems };
}

class SimpleEnvReader implements MailEnvReader {
  readonly problems: string[] = [];
  constructor(readonly env: Record<string, string | undefined>) {}

  #raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === "" ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.#raw(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      this.problems.push(`${name} must be a URL (${protocols.join(" or ")}), got "${redact(raw)}"`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.problems.push(`${name} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
      return undefined;
    }
    return raw;
  }

  problem(message: string): void {
    this.problems.push(message);
  }
}

/** Hides a URL's password before it is printed. */
function redact(url: string): string {
  return url.replace(/:[^:@/]+@/, ":***@");
}
