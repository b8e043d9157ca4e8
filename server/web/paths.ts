/** Where the member web app's sources and build live (kept apart from build.ts, which loads esbuild). */
export const WEB_DIR = new URL("../../web/", import.meta.url);
export const WEB_DIST = new URL("../../web/dist/", import.meta.url);
