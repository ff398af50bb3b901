import { defineConfig, env } from "prisma/config";

// The app's own database, which Tocsin shares: the app's tables in `public` (Prisma's),
// Tocsin's in the schema `tocsin` (Tocsin's migrations), so neither migrates the other's.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: env("DATABASE_URL") },
});
