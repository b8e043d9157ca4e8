/**
 * A schedule's timing in words for people ("every day at 08:00 Europe/Berlin"): the
 * common cron shapes are spelled out, anything else is shown as its expression.
 */
import { formatMs } from "../kit/validate.ts";
import type { Timing } from "./model.ts";

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const NUMBER = /^\d{1,2}$/;
const STEP = /^\*\/(\d{1,2})$/;

function clock(hour: string, minute: string, second = "0"): string {
  const hm = `${hour.padStart(2, "0")}:${minute.padStart(2, "0")}`;
  return second === "0" ? hm : `${hm}:${second.padStart(2, "0")}`;
}

function describeCron(cron: string, zone: string): string {
  const fields = cron.trim().split(/\s+/);
  const [second, minute, hour, dom, month, dow] = fields.length === 6 ? fields : ["0", ...fields];
  const everyDay = dom === "*" && month === "*";
  if (everyDay && dow === "*") {
    if ([second, minute, hour].every((f) => f === "*")) {
      return fields.length === 6 ? "every second" : "every minute";
    }
    const s = STEP.exec(second);
    if (s && minute === "*" && hour === "*") return `every ${s[1]} seconds`;
    const m = STEP.exec(minute);
    if (second === "0" && m && hour === "*") return `every ${m[1]} minutes`;
    if (second === "0" && minute === "*" && hour === "*") return "every minute";
    if (second === "0" && NUMBER.test(minute) && hour === "*") {
      return `every hour at :${minute.padStart(2, "0")}`;
    }
  }
  if (!NUMBER.test(second) || !NUMBER.test(minute) || !NUMBER.test(hour)) return `cron "${cron}" ${zone}`;
  const at = `at ${clock(hour, minute, second)} ${zone}`;
  if (everyDay && dow === "*") return `every day ${at}`;
  if (everyDay && /^[0-7]$/.test(dow)) return `every ${DAYS[Number(dow) % 7]} ${at}`;
  if (everyDay && (dow === "1-5" || dow.toUpperCase() === "MON-FRI")) return `every weekday ${at}`;
  if (NUMBER.test(dom) && month === "*" && dow === "*") return `on day ${dom} of every month ${at}`;
  return `cron "${cron}" ${zone}`;
}

export function describeTiming(timing: Timing): string {
  switch (timing.kind) {
    case "cron":
      return describeCron(timing.cron, timing.timeZone);
    case "interval":
      return timing.anchorAt === 0
        ? `every ${formatMs(timing.intervalMs)}`
        : `every ${formatMs(timing.intervalMs)} from ${new Date(timing.anchorAt).toISOString()}`;
    case "once":
      return `once at ${new Date(timing.at).toISOString()}`;
  }
}
