/**
 * The tag suggestion lifecycle over the real server, through the authorization table:
 * a member suggests, the admin's live approval queue sees it, nobody else may decide,
 * and only the approved tag enters the catalogue.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService, Role } from "../gen/taskmesh/auth/v1/auth_pb.ts";
import { SuggestionEventKind, TagService, TagType } from "../gen/taskmesh/tags/v1/tags_pb.ts";
import { createAdmin } from "../server/auth/first_admin.ts";
import { startTestServer } from "./_support/server.ts";

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const refused = (code: Code) => (e: unknown) => e instanceof ConnectError && e.code === code;

Deno.test("suggestion lifecycle over the real server, with live events and roles enforced", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const server = await startTestServer({ env: { TASKMESH_AUTH_REQUIRE_VERIFIED_EMAIL: "false" } });
  try {
    const auth = createClient(AuthService, server.connect());
    const tags = createClient(TagService, server.grpc());
    const password = "correct horse battery staple";
    await createAdmin(server.deps, { email: "root@example.com", password });
    const admin = (await auth.login({ email: "root@example.com", password })).tokens!.accessToken;
    const signUp = async (email: string) => {
      const { user } = await auth.register({ email, password, displayName: email });
      return user!.id;
    };
    await signUp("member@example.com");
    const viewerId = await signUp("viewer@example.com");
    await auth.setRole({ userId: viewerId, role: Role.VIEWER }, bearer(admin));
    const member = (await auth.login({ email: "member@example.com", password })).tokens!.accessToken;
    const viewer = (await auth.login({ email: "viewer@example.com", password })).tokens!.accessToken;

    const watch = new AbortController();
    const events = tags.watchSuggestions({}, { ...bearer(admin), signal: watch.signal })
      [Symbol.asyncIterator]();

    // A viewer is read-only; anonymous callers are not signed in.
    await assert.rejects(
      tags.suggestTag({ name: "Rust", type: TagType.LANGUAGE }, bearer(viewer)),
      refused(Code.PermissionDenied),
    );
    await assert.rejects(
      tags.suggestTag({ name: "Rust", type: TagType.LANGUAGE }),
      refused(Code.Unauthenticated),
    );

    const suggested = await tags.suggestTag(
      { name: "Rust", type: TagType.LANGUAGE, reason: "systems" },
      bearer(member),
    );
    assert.equal(suggested.result.case, "suggestion");
    const id = suggested.result.case === "suggestion" ? suggested.result.value.id : "";

    // The watch began before or during the suggestion: it arrives as EXISTING or SUGGESTED.
    const first = (await events.next()).value;
    assert.ok([SuggestionEventKind.EXISTING, SuggestionEventKind.SUGGESTED].includes(first.kind));
    assert.equal(first.suggestion.id, id);

    // Pending means absent from the catalogue.
    assert.equal((await tags.listTags({ namePrefix: "rust" }, bearer(member))).tags.length, 0);
    assert.equal((await tags.getTree({}, bearer(member))).nodes.length, 0);

    // Only an admin decides.
    await assert.rejects(tags.approveSuggestion({ id }, bearer(member)), refused(Code.PermissionDenied));
    const approved = await tags.approveSuggestion({ id }, bearer(admin));
    assert.equal(approved.tag?.name, "Rust");
    let decided = (await events.next()).value;
    while (decided.kind !== SuggestionEventKind.DECIDED) decided = (await events.next()).value;
    assert.equal(decided.suggestion.id, id);
    assert.equal((await tags.listTags({ namePrefix: "rust" }, bearer(member))).tags[0]?.name, "Rust");
    watch.abort();
  } finally {
    await server.close();
  }
});
