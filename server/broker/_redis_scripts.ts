/**
 * The broker's Lua scripts (server/broker/lua/<name>-<nkeys>.lua), read once at import
 * and defined once per client as named commands; ioredis then sends EVALSHA and falls
 * back to EVAL on NOSCRIPT by itself, so a restarted Redis needs nothing from us.
 */
import type { Cluster, Redis } from "ioredis";

/** Each script's file; the number before `.lua` is how many KEYS it takes. */
const FILES = {
  add: "add-6.lua",
  promote: "promote-3.lua",
  claim: "claim-11.lua",
  extend: "extend-2.lua",
  release: "release-6.lua",
  takeExpired: "take-expired-6.lua",
  remove: "remove-10.lua",
  restoreLeases: "restore-leases-6.lua",
  leasesOf: "leases-of-4.lua",
  markRebuilt: "mark-rebuilt-2.lua",
  removeWorker: "remove-worker-1.lua",
} as const;

export type ScriptName = keyof typeof FILES;

interface Loaded {
  command: string;
  numberOfKeys: number;
  lua: string;
}

const SCRIPTS = Object.fromEntries(
  Object.entries(FILES).map(([name, file]) => {
    const match = /-(\d+)\.lua$/.exec(file);
    if (!match) throw new Error(`broker script ${file} is misnamed: call it <name>-<nkeys>.lua`);
    const loaded: Loaded = {
      command: `taskmeshBroker_${name}`,
      numberOfKeys: Number(match[1]),
      lua: Deno.readTextFileSync(new URL(`./lua/${file}`, import.meta.url)),
    };
    return [name, loaded];
  }),
) as Record<ScriptName, Loaded>;

export type RedisClient = Redis | Cluster;
type Command = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/** Runs the broker's scripts by name on one client. */
export interface BrokerScripts {
  run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function brokerScripts(redis: RedisClient): BrokerScripts {
  for (const script of Object.values(SCRIPTS)) {
    // Several brokers may share a client (tests, peers); define each command once.
    if (!(script.command in redis)) {
      redis.defineCommand(script.command, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    }
  }
  const commands = redis as unknown as Record<string, Command>;
  return {
    run(name, keys, args) {
      const script = SCRIPTS[name];
      if (keys.length !== script.numberOfKeys) {
        throw new Error(`broker script ${name} takes ${script.numberOfKeys} keys, was given ${keys.length}`);
      }
      return commands[script.command].call(redis, ...keys, ...args);
    },
  };
}
