-- The W3C trace context of the call that enqueued a task (docs/WORKERS.md, "Tracing"): the
-- worker's handler span becomes its child. Null when the call carried none. 55 characters
-- for version 00; the bound leaves room for a later version's longer form.
alter table tasks add column traceparent text check (traceparent is null or length(traceparent) <= 128);
