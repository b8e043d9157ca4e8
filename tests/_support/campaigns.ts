/**
 * A campaign test bench: a real server (Postgres schema, Redis prefix) with the task
 * engine and campaigns, a real SMTP sink on loopback, an SDK worker running the real
 * `email.send` handler, an admin's clients, and helpers to make members, tags and
 * subscriptions.
 */
import { createClient } from "@connectrpc/connect";
import { AuthService } from "../../gen/taskmesh/auth/v1/auth_pb.ts";
import { CampaignService } from "../../gen/taskmesh/campaigns/v1/campaigns_pb.ts";
import { TagService, TagType } from "../../gen/taskmesh/tags/v1/tags_pb.ts";
import { type SmtpSink, startSmtpSink } from "../../mail/testing.ts";
import type { Clock } from "../../server/clock.ts";
import type { CampaignsRuntime } from "../../server/campaigns/mod.ts";
import { type MailWorker, startMailWorker } from "./mail_worker.ts";
import { bearer } from "./raw_worker.ts";
import { startTestServer, type TestServer } from "./server.ts";

export const FROM = "taskmesh <no-reply@mail.example.test>";

export interface CampaignBench {
  server: TestServer;
  sink: SmtpSink;
  mailer?: MailWorker;
  campaigns: CampaignsRuntime;
  client: ReturnType<typeof createClient<typeof CampaignService>>;
  tags: ReturnType<typeof createClient<typeof TagService>>;
  /** A campaigns:manage API key's headers: unlike a JWT, it survives a manual clock's jumps. */
  auth: ReturnType<typeof bearer>;
  /** An admin's access token headers (tags are an admin's). */
  admin: ReturnType<typeof bearer>;
  /** A verified (unless told) member; returns the user id. */
  member(email: string, options?: { verified?: boolean; name?: string }): Promise<string>;
  tag(name: string, type?: TagType, parent?: string): Promise<string>;
  subscribe(userId: string, tagId: string): Promise<void>;
  /** Recipients of each mail the sink received. */
  received(): string[];
  close(): Promise<void>;
}

export async function startCampaignBench(
  options: { clock?: Clock; concurrency?: number; answer?: (to: string[]) => number | undefined } = {},
): Promise<CampaignBench> {
  const sink = await startSmtpSink({ answer: options.answer });
  const server = await startTestServer({
    redis: true,
    clock: options.clock,
    env: { TASKMESH_MAIL_FROM: FROM, TASKMESH_PUBLIC_URL: "http://members.example.test" },
  });
  const mailer = await startMailWorker(server, {
    mail: { smtpUrl: sink.url, from: FROM, outboxDir: "/nonexistent" },
    concurrency: options.concurrency ?? 8,
  });
  const admin = bearer(mailer.admin!);
  const { secret } = await createClient(AuthService, server.connectH2()).createApiKey(
    { name: "campaigns", scopes: ["campaigns:read", "campaigns:manage"] },
    admin,
  );
  const auth = bearer(secret);
  const campaigns = server.app.runtimes.campaigns!;
  const sql = server.db.sql;
  const now = () => new Date((options.clock ?? { now: Date.now }).now());
  return {
    server,
    sink,
    mailer,
    campaigns,
    client: createClient(CampaignService, server.connectH2()),
    tags: createClient(TagService, server.connectH2()),
    auth,
    admin,
    async member(email, o = {}) {
      const id = crypto.randomUUID();
      await sql`
        insert into users (id, email, display_name, password_hash, role, email_verified_at, created_at)
        values (${id}, ${email}, ${o.name ?? email.split("@")[0]}, 'x', 'member',
          ${o.verified === false ? null : now()}, ${now()})`;
      return id;
    },
    async tag(name, type = TagType.TOPIC, parent = "") {
      const { tag } = await createClient(TagService, server.connectH2()).createTag(
        { name, type, parentId: parent },
        admin,
      );
      return tag!.id;
    },
    async subscribe(userId, tagId) {
      await sql`insert into tag_subscriptions (user_id, tag_id, created_at) values (${userId}, ${tagId}, ${now()})`;
    },
    received: () => sink.received.flatMap((m) => m.to),
    async close() {
      if (Deno.env.get("CAMPAIGN_TEST_LOG")) {
        for (const line of server.log.lines) {
          if (JSON.stringify(line).includes("rror")) console.error(JSON.stringify(line));
        }
      }
      await mailer.stop();
      await server.close();
      await sink.close();
    },
  };
}
