/**
 * Imported first by main.ts: React reads NODE_ENV when it loads, and its development
 * build (extra checks on every render) is for tests, not for an operator's terminal.
 */
import process from "node:process";

process.env.NODE_ENV ??= "production";
