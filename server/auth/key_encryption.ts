/**
 * Private signing keys at rest: AES-256-GCM under a key derived (HKDF-SHA-256) from
 * TASKMESH_AUTH_KEY_SECRET, so a database dump alone cannot mint tokens.
 */
import { base64url } from "jose";

const SALT = new TextEncoder().encode("taskmesh signing keys");
const INFO = new TextEncoder().encode("aes-256-gcm v1");
const VERSION = "v1";

async function deriveKey(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: INFO },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** `v1.<iv>.<ciphertext>`, both base64url; the kid is bound as associated data so rows cannot be swapped. */
export async function encryptPrivateKey(secret: string, kid: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(kid) },
    await deriveKey(secret),
    new TextEncoder().encode(plaintext),
  );
  return [VERSION, base64url.encode(iv), base64url.encode(new Uint8Array(ciphertext))].join(".");
}

export async function decryptPrivateKey(secret: string, kid: string, stored: string): Promise<string> {
  const [version, iv, ciphertext] = stored.split(".");
  if (version !== VERSION || !iv || !ciphertext) {
    throw new Error(`signing key ${kid} is stored in an unknown format: rotate the signing key`);
  }
  try {
    const plaintext = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: new Uint8Array(base64url.decode(iv)),
        additionalData: new TextEncoder().encode(kid),
      },
      await deriveKey(secret),
      new Uint8Array(base64url.decode(ciphertext)),
    );
    return new TextDecoder().decode(plaintext);
  } catch {
    throw new Error(
      `signing key ${kid} does not decrypt: TASKMESH_AUTH_KEY_SECRET differs from the one it was stored with`,
    );
  }
}
