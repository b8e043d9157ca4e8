/**
 * The whole process configuration: each domain reads its own variables through one
 * EnvReader, and every problem is reported together before anything starts.
 */
import { type AuthConfig, readAuthConfig } from "./auth/config.ts";
import { ConfigError, type Env, EnvReader, readServerConfig, type ServerConfig } from "./config.ts";
import { type MailConfig, readMailConfig } from "../mail/mod.ts";
import { readTasksConfig, type TasksConfig } from "./tasks/config.ts";
import { type AlertsConfig, readAlertsConfig } from "./alerts/config.ts";

export interface Config {
  server: ServerConfig;
  auth: AuthConfig;
  mail: MailConfig;
  tasks: TasksConfig;
  alerts: AlertsConfig;
}

export function loadConfig(env: Env): Config {
  const r = new EnvReader(env);
  const server = readServerConfig(r);
  const auth = readAuthConfig(r);
  const mail = readMailConfig(r, server.dataDir);
  const tasks = readTasksConfig(r);
  const alerts = readAlertsConfig(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return { server, auth, mail, tasks, alerts };
}
