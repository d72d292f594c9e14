// Lint rules that encode the project's conventions (README "Code style"):
// only lib/config.ts reads process.env, no console, no empty blocks (no catch {}
// that swallows), type-only imports marked, and no promise left floating.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // public/vendor/ holds third-party bundles made by `npm run vendor` (dev/vendor.ts), checked by their own test.
  { ignores: ["node_modules/", ".data/", ".scratch/", "drizzle/", "coverage/", "public/vendor/", "test-results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "no-console": "error",
      "no-empty": ["error", { allowEmptyCatch: false }],
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Only lib/config.ts reads process.env: use loadConfig()/currentEnvironment()." },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    files: ["lib/config.ts"],
    rules: { "no-restricted-properties": "off" },
  },
  {
    files: ["public/**/*.js", "*.js"],
    languageOptions: { globals: { window: "readonly", document: "readonly", console: "readonly" } },
  },
  {
    // The dashboard's modules run in the browser: the browser globals they use.
    files: ["public/**/*.js"],
    languageOptions: {
      globals: Object.fromEntries(
        ["sessionStorage", "fetch", "URL", "URLSearchParams", "CustomEvent", "crypto", "Node", "FormData", "location", "setTimeout", "clearTimeout", "setInterval"].map(
          (name) => [name, "readonly"],
        ),
      ),
    },
  },
);
