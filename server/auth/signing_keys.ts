/**
 * The keys that sign access tokens, kept in Postgres so every instance signs and
 * verifies with the same set. One key is current; rotation retires it but keeps its
 * public half published until every token it could have signed has expired.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { ACCESS_TOKEN_ALG, importVerificationKeys, type JwksSource } from "../authz/token_verifier.ts";
import { decryptPrivateKey, encryptPrivateKey } from "./key_encryption.ts";
import {
  findCurrentSigningKey,
  insertSigningKey,
  listPublishedSigningKeys,
  lockSigningKeys,
  retireSigningKeys,
  type SigningKeyRow,
} from "./signing_key_queries.ts";
import type { Db } from "./user_queries.ts";
import type { Sql } from "../db/postgres.ts";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** A public key as published in the JWKS (RFC 8037 OKP). */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: string;
  use: string;
}

export interface SigningKeyStoreOptions {
  sql: Sql;
  clock: Clock;
  log: Logger;
  accessTtlSeconds: number;
  clockSkewSeconds: number;
  /** TASKMESH_AUTH_KEY_SECRET: new private keys are stored encrypted under it, and old ones read with it. */
  encryptionSecret?: string;
  /** How long this instance reuses what it read; bounds how late it notices another instance's rotation. */
  cacheMs?: number;
  /** An unknown kid re-reads the keys at most this often. */
  minReloadMs?: number;
}

export class SigningKeyStore implements JwksSource {
  readonly #o: Required<Omit<SigningKeyStoreOptions, "encryptionSecret">> & { encryptionSecret?: string };
  #current?: { key: SigningKey; readAt: number };
  #published?: { jwks: PublicJwk[]; keys: Map<string, CryptoKey>; readAt: number };
  #loading?: Promise<void>;

  constructor(options: SigningKeyStoreOptions) {
    this.#o = { cacheMs: 30_000, minReloadMs: 5_000, ...options };
  }

  /** The key to sign with now; the first call on an empty table creates it. */
  async currentKey(): Promise<SigningKey> {
    const now = this.#o.clock.now();
    if (this.#current && now - this.#current.readAt < this.#o.cacheMs) return this.#current.key;
    let row = await findCurrentSigningKey(this.#o.sql);
    if (!row) {
      row = await this.#o.sql.begin(async (tx) => {
        await lockSigningKeys(tx);
        // Another instance may have created it while we waited for the lock.
        return await findCurrentSigningKey(tx) ?? await this.#create(tx);
      });
    }
    const key = { kid: row.kid, privateKey: await this.#importPrivate(row) };
    this.#current = { key, readAt: now };
    return key;
  }

  /** Makes a new key current and keeps the old ones published; returns the new kid. */
  async rotate(): Promise<string> {
    const nowMs = this.#o.clock.now();
    // Another instance may sign with the old key until its cache expires, and the last
    // token it signs lives accessTtl more, plus the skew verifiers tolerate.
    const publishUntil = new Date(
      nowMs + this.#o.cacheMs + (this.#o.accessTtlSeconds + this.#o.clockSkewSeconds) * 1000,
    );
    const row = await this.#o.sql.begin(async (tx) => {
      await lockSigningKeys(tx);
      await retireSigningKeys(tx, new Date(nowMs), publishUntil);
      return await this.#create(tx);
    });
    this.#current = undefined;
    this.#published = undefined;
    this.#o.log.info("signing key rotated", {
      kid: row.kid,
      old_keys_published_until: publishUntil.toISOString(),
    });
    return row.kid;
  }

  /** Every key a currently valid token may be signed with, for GetJwks and /.well-known/jwks.json. */
  async publishedKeys(): Promise<PublicJwk[]> {
    const now = this.#o.clock.now();
    if (!this.#published || now - this.#published.readAt >= this.#o.cacheMs) await this.#reload();
    return this.#published!.jwks;
  }

  /** JwksSource: verification in the same process reads the same table. */
  async keyFor(kid: string): Promise<CryptoKey | undefined> {
    const now = this.#o.clock.now();
    const stale = !this.#published || now - this.#published.readAt >= this.#o.cacheMs;
    const unknownButMayExist = this.#published && !this.#published.keys.has(kid) &&
      now - this.#published.readAt >= this.#o.minReloadMs;
    if (stale || unknownButMayExist) await this.#reload();
    return this.#published!.keys.get(kid);
  }

  #reload(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const now = this.#o.clock.now();
        const rows = await listPublishedSigningKeys(this.#o.sql, new Date(now));
        const jwks = rows.map((r) => publicJwkOf(r.kid, r.public_jwk));
        this.#published = { jwks, keys: await importVerificationKeys(jwks), readAt: now };
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  async #create(tx: Db): Promise<SigningKeyRow> {
    const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, {
      crv: "Ed25519",
      extractable: true,
    });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJson = JSON.stringify(await exportJWK(privateKey));
    const secret = this.#o.encryptionSecret;
    const stored = secret ? await encryptPrivateKey(secret, kid, privateJson) : privateJson;
    const now = new Date(this.#o.clock.now());
    const bare = { kty: publicJwk.kty!, crv: publicJwk.crv!, x: publicJwk.x! };
    await insertSigningKey(tx, {
      kid,
      algorithm: ACCESS_TOKEN_ALG,
      publicJwk: bare,
      privateKey: stored,
      encrypted: secret !== undefined,
      now,
    });
    if (!secret) {
      this.#o.log.warn(
        "signing key stored unencrypted: set TASKMESH_AUTH_KEY_SECRET to encrypt private keys at rest",
        {
          kid,
        },
      );
    }
    return {
      kid,
      algorithm: ACCESS_TOKEN_ALG,
      public_jwk: bare,
      private_key: stored,
      private_key_encrypted: secret !== undefined,
      created_at: now,
      retired_at: null,
      publish_until: null,
    };
  }

  async #importPrivate(row: SigningKeyRow): Promise<CryptoKey> {
    let json = row.private_key;
    if (row.private_key_encrypted) {
      if (!this.#o.encryptionSecret) {
        throw new Error(
          `signing key ${row.kid} is encrypted: set TASKMESH_AUTH_KEY_SECRET to the secret it was stored with`,
        );
      }
      json = await decryptPrivateKey(this.#o.encryptionSecret, row.kid, row.private_key);
    }
    // Not extractable once loaded: nothing in the process can read the private key back out.
    return await importJWK(JSON.parse(json) as JWK, ACCESS_TOKEN_ALG, { extractable: false }) as CryptoKey;
  }
}

function publicJwkOf(kid: string, jwk: JWK): PublicJwk {
  return {
    kty: jwk.kty ?? "OKP",
    crv: jwk.crv ?? "Ed25519",
    x: jwk.x ?? "",
    kid,
    alg: ACCESS_TOKEN_ALG,
    use: "sig",
  };
}
