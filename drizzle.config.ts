import { defineConfig } from "drizzle-kit";

// Generation needs no database: `npm run db:generate` diffs lib/db/schema.ts against
// drizzle/meta and writes a new SQL migration. Applying is `npm run db:migrate`.
export default defineConfig({
  dialect: "postgresql",
  schema: "./lib/db/schema.ts",
  out: "./drizzle",
});
