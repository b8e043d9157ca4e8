/**
 * The whole process configuration: each domain reads its own variables through one
 * EnvReader, and every problem is reported together before anything starts.
 */
import { ConfigError, type Env, EnvReader, readServerConfig, type ServerConfig } from "./config.ts";

export interface Config {
  server: ServerConfig;
}

export function loadConfig(env: Env): Config {
  const r = new EnvReader(env);
  const server = readServerConfig(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return { server };
}
