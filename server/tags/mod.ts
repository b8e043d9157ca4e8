/** The tag service: typed hierarchy, aliases, member suggestions and subscriptions. */
export {
  createTagServiceImpl,
  DEFAULT_WATCH_BUFFER,
  defaultSuggestionBus,
  registerTagService,
  registerTagServiceWith,
  type TagServiceDeps,
  type TagServiceOptions,
} from "./service.ts";
export {
  createMemorySuggestionBus,
  createPostgresSuggestionBus,
  createSuggestionBus,
  type SuggestionBus,
  type SuggestionEvent,
} from "./suggestion_feed.ts";
export { type CatalogueEntry, readCatalogue, seedCatalogue, type SeedResult } from "./seed.ts";
export { type RefoldResult, refoldTagNames } from "./refold.ts";
export { type AudiencePage, audienceQuery, selectAudience } from "./subscription_queries.ts";
