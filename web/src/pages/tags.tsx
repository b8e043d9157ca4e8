import { type FormEvent, useMemo, useState } from "react";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import {
  type Suggestion,
  SuggestionStatus,
  type Tag,
  TagService,
  TagType,
  type TreeNode,
} from "../../../gen/taskmesh/tags/v1/tags_pb.ts";
import { Field, FormError, Notice } from "../components/field.tsx";
import { type FormErrors, formErrors, messageOf } from "../errors.ts";

export function invalidateSubscriptions(client: QueryClient): Promise<void> {
  return client.invalidateQueries({
    queryKey: createConnectQueryKey({
      schema: TagService.method.listMySubscriptions,
      cardinality: undefined,
    }),
  });
}

const TYPE_NAMES: [TagType, string][] = [
  [TagType.LANGUAGE, "Language"],
  [TagType.SKILL_LEVEL, "Skill level"],
  [TagType.TOPIC, "Topic"],
  [TagType.FRAMEWORK, "Framework"],
  [TagType.TOOL, "Tool"],
  [TagType.DOMAIN, "Domain"],
  [TagType.CONCEPT, "Concept"],
];
const typeName = (t: TagType) => TYPE_NAMES.find(([v]) => v === t)?.[1] ?? "Tag";

export function TagsPage() {
  return (
    <>
      <TagTree />
      <SuggestTag />
      <MySuggestions />
    </>
  );
}

/** The nodes to show for a search: every match, with its ancestors so it keeps its place. */
function visibleNodes(nodes: TreeNode[], query: string): TreeNode[] {
  const q = query.trim().toLowerCase();
  if (!q) return nodes;
  const byId = new Map(nodes.map((n) => [n.tag!.id, n]));
  const keep = new Set<string>();
  for (const n of nodes) {
    const t = n.tag!;
    if (t.name.toLowerCase().includes(q) || t.aliases.some((a) => a.toLowerCase().includes(q))) {
      for (let cur: Tag | undefined = t; cur && !keep.has(cur.id); cur = byId.get(cur.parentId)?.tag) {
        keep.add(cur.id);
      }
    }
  }
  return nodes.filter((n) => keep.has(n.tag!.id));
}

function TagTree() {
  const [query, setQuery] = useState("");
  const tree = useQuery(TagService.method.getTree, {});
  const subscriptions = useQuery(TagService.method.listMySubscriptions, { pageSize: 1000 });
  const client = useQueryClient();
  const onDone = { onSuccess: () => invalidateSubscriptions(client) };
  const subscribe = useMutation(TagService.method.subscribe, onDone);
  const unsubscribe = useMutation(TagService.method.unsubscribe, onDone);
  const followed = useMemo(
    () => new Set((subscriptions.data?.subscriptions ?? []).map((s) => s.tag?.id)),
    [subscriptions.data],
  );
  const nodes = useMemo(() => visibleNodes(tree.data?.nodes ?? [], query), [tree.data, query]);
  const busy = subscribe.isPending || unsubscribe.isPending;
  const error = tree.error ?? subscriptions.error ?? subscribe.error ?? unsubscribe.error;

  return (
    <section className="card">
      <h1>Tags</h1>
      <p>Follow the tags you care about: a tag covers everything below it.</p>
      <div className="field">
        <label htmlFor="tag-search">Search tags</label>
        <input
          id="tag-search"
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="Python, testing, Git…"
        />
      </div>
      {error && <FormError message={messageOf(error)} />}
      {tree.isPending && <p role="status">Loading the tags…</p>}
      {tree.isSuccess && nodes.length === 0 && <p>No tag matches “{query}”: suggest it below.</p>}
      <ul className="tree" data-testid="tag-tree">
        {nodes.map((n) => {
          const t = n.tag!;
          const on = followed.has(t.id);
          return (
            <li key={t.id} className={`depth-${Math.min(n.depth, 6)}`} data-tag={t.name}>
              <span className="tag-name">{t.name}</span>
              <span className="badge">{typeName(t.type)}</span>
              <button
                type="button"
                className={on ? "ghost small" : "small"}
                aria-pressed={on}
                aria-label={`${on ? "Unsubscribe from" : "Subscribe to"} ${t.name}`}
                disabled={busy}
                onClick={() => on ? unsubscribe.mutate({ tagId: t.id }) : subscribe.mutate({ tagId: t.id })}
              >
                {on ? "Subscribed" : "Subscribe"}
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function SuggestTag() {
  const [name, setName] = useState("");
  const [type, setType] = useState<TagType>(TagType.TOPIC);
  const [reason, setReason] = useState("");
  const [parentId, setParentId] = useState("");
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const tree = useQuery(TagService.method.getTree, {});
  const client = useQueryClient();
  const suggest = useMutation(TagService.method.suggestTag, {
    onSuccess: () =>
      client.invalidateQueries({
        queryKey: createConnectQueryKey({
          schema: TagService.method.listMySuggestions,
          cardinality: undefined,
        }),
      }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors({ fields: {} });
    suggest.mutate({ name, type, reason, parentId }, {
      onSuccess: () => setName(""),
      onError: (err) => setErrors(formErrors(err, ["name", "type", "reason", "parent_id"])),
    });
  };
  const result = suggest.data?.result;
  return (
    <section className="card">
      <h2>Suggest a tag</h2>
      <form onSubmit={submit} noValidate>
        <Field
          name="name"
          label="Name"
          value={name}
          onChange={setName}
          error={errors.fields.name}
          maxLength={64}
        />
        <div className="field">
          <label htmlFor="field-type">Type</label>
          <select id="field-type" value={type} onChange={(e) => setType(Number(e.target.value) as TagType)}>
            {TYPE_NAMES.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
          {errors.fields.type && <div className="error" role="alert">{errors.fields.type}</div>}
        </div>
        <div className="field">
          <label htmlFor="field-parent_id">Under (optional)</label>
          <select id="field-parent_id" value={parentId} onChange={(e) => setParentId(e.target.value)}>
            <option value="">Nothing: a new root</option>
            {(tree.data?.nodes ?? []).map((n) => (
              <option key={n.tag!.id} value={n.tag!.id}>
                {"\u00a0\u00a0".repeat(n.depth) + n.tag!.name}
              </option>
            ))}
          </select>
          {errors.fields.parent_id && <div className="error" role="alert">{errors.fields.parent_id}</div>}
        </div>
        <Field
          name="reason"
          label="Why (optional)"
          value={reason}
          onChange={setReason}
          error={errors.fields.reason}
        />
        <FormError message={errors.form} />
        {result?.case === "existingTag" && (
          <Notice>“{result.value.name}” is already a tag: follow it above.</Notice>
        )}
        {result?.case === "suggestion" && (
          <Notice>Thanks: “{result.value.name}” waits for an admin. Its status is below.</Notice>
        )}
        <button type="submit" disabled={suggest.isPending}>Suggest</button>
      </form>
    </section>
  );
}

const STATUS: Record<SuggestionStatus, string> = {
  [SuggestionStatus.UNSPECIFIED]: "unknown",
  [SuggestionStatus.PENDING]: "pending",
  [SuggestionStatus.APPROVED]: "approved",
  [SuggestionStatus.MAPPED]: "mapped",
  [SuggestionStatus.REJECTED]: "rejected",
};

function decision(s: Suggestion, tags: Map<string, Tag>): string {
  const tag = tags.get(s.tagId)?.name;
  switch (s.status) {
    case SuggestionStatus.APPROVED:
      return `Now a tag${tag ? `: ${tag}` : ""}.`;
    case SuggestionStatus.MAPPED:
      return `Added as another name of ${tag ?? "an existing tag"}.`;
    case SuggestionStatus.REJECTED:
      return `Rejected: ${s.rejectionReason}`;
    default:
      return "Waiting for an admin.";
  }
}

function MySuggestions() {
  const mine = useQuery(TagService.method.listMySuggestions, { pageSize: 100 });
  const tree = useQuery(TagService.method.getTree, {});
  const tags = useMemo(() => new Map((tree.data?.nodes ?? []).map((n) => [n.tag!.id, n.tag!])), [tree.data]);
  const list = mine.data?.suggestions ?? [];
  return (
    <section className="card">
      <h2>My suggestions</h2>
      {mine.isError && <FormError message={messageOf(mine.error)} />}
      {mine.isSuccess && list.length === 0 && <p>You have suggested nothing yet.</p>}
      <ul className="list" data-testid="my-suggestions">
        {list.map((s) => (
          <li key={s.id} data-suggestion={s.name} data-status={STATUS[s.status]}>
            <span>
              <strong>{s.name}</strong> <span className="badge">{typeName(s.type)}</span>
              <span className="decision">{decision(s, tags)}</span>
            </span>
            <span className={`status ${STATUS[s.status]}`}>{STATUS[s.status]}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
