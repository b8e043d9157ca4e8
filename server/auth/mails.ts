/**
 * The mails auth sends. Links point at the member page under the public URL; the
 * token is also printed on its own line so it can be pasted when a link breaks.
 */
import type { EmailMessage } from "../../mail/mod.ts";

function link(publicUrl: string, path: string, token: string): string {
  const url = new URL(path, publicUrl.endsWith("/") ? publicUrl : publicUrl + "/");
  url.searchParams.set("token", token);
  return url.href;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function verificationMail(
  publicUrl: string,
  to: string,
  displayName: string,
  token: string,
  ttlHours: number,
): EmailMessage {
  const href = link(publicUrl, "verify-email", token);
  return {
    to,
    subject: "Confirm your taskmesh email address",
    text: [
      `Hello ${displayName},`,
      "",
      "Confirm your email address by opening this link:",
      href,
      "",
      `Or paste this code: ${token}`,
      "",
      `The link works once and expires in ${ttlHours} hours. If you did not sign up, ignore this mail.`,
    ].join("\n"),
    html: `<p>Hello ${escapeHtml(displayName)},</p>
<p><a href="${escapeHtml(href)}">Confirm your email address</a></p>
<p>Or paste this code: <code>${token}</code></p>
<p>The link works once and expires in ${ttlHours} hours. If you did not sign up, ignore this mail.</p>`,
  };
}

export function resetMail(
  publicUrl: string,
  to: string,
  displayName: string,
  token: string,
  ttlMinutes: number,
): EmailMessage {
  const href = link(publicUrl, "reset-password", token);
  return {
    to,
    subject: "Reset your taskmesh password",
    text: [
      `Hello ${displayName},`,
      "",
      "Choose a new password by opening this link:",
      href,
      "",
      `Or paste this code: ${token}`,
      "",
      `The link works once and expires in ${ttlMinutes} minutes. Setting a new password signs you out everywhere.`,
      "If you did not ask for this, ignore this mail: your password stays as it is.",
    ].join("\n"),
    html: `<p>Hello ${escapeHtml(displayName)},</p>
<p><a href="${escapeHtml(href)}">Choose a new password</a></p>
<p>Or paste this code: <code>${token}</code></p>
<p>The link works once and expires in ${ttlMinutes} minutes. Setting a new password signs you out everywhere.</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>`,
  };
}

/**
 * Sent instead of an error when someone registers with an address that has an account,
 * so Register never tells a stranger which addresses are taken. It carries no token.
 */
export function existingAccountMail(publicUrl: string, to: string, displayName: string): EmailMessage {
  const base = publicUrl.endsWith("/") ? publicUrl : publicUrl + "/";
  const login = new URL("login", base).href;
  const reset = new URL("reset-password", base).href;
  return {
    to,
    subject: "Someone tried to sign up to taskmesh with your address",
    text: [
      `Hello ${displayName},`,
      "",
      "Someone tried to create a taskmesh account with your email address, which already has one.",
      `If it was you, log in instead: ${login}`,
      `Forgot your password? Reset it: ${reset}`,
      "",
      "If it was not you, ignore this mail: your account has not changed.",
    ].join("\n"),
    html: `<p>Hello ${escapeHtml(displayName)},</p>
<p>Someone tried to create a taskmesh account with your email address, which already has one.</p>
<p>If it was you, <a href="${escapeHtml(login)}">log in</a> instead. Forgot your password?
<a href="${escapeHtml(reset)}">Reset it</a>.</p>
<p>If it was not you, ignore this mail: your account has not changed.</p>`,
  };
}
