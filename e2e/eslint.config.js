// ESLint for the browser code (static/js, ES modules loaded by the chat page
// without a bundler) and for the browser tests themselves.
//
// It lives here, next to the npm packages it needs; run it from the
// repository root (npm run lint in e2e/ does), where its patterns start:
//   e2e/node_modules/.bin/eslint --config e2e/eslint.config.js --max-warnings 0 static/js e2e
import js from "@eslint/js";
import globals from "globals";

const strict = {
  ...js.configs.recommended.rules,
  "no-undef": "error",
  "no-unused-vars": ["error", { args: "after-used", caughtErrors: "all" }],
  "no-implicit-globals": "error",
  "no-shadow-restricted-names": "error",
  "prefer-const": "error",
  "no-var": "error",
  eqeqeq: ["error", "always"],
};

export default [
  {
    ignores: ["**/node_modules/**", "static/vendor/**", "target/**", "e2e/screenshots/**"],
  },
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: {
        ...globals.browser,
        io: "readonly", // the vendored Socket.IO client, a classic script loaded before the modules
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: strict,
  },
  {
    files: ["e2e/**/*.mjs", "e2e/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      // page.evaluate() callbacks run in the page: they may use its document
      // and the events a person's clipboard and drag and drop would send.
      globals: {
        ...globals.node,
        document: "readonly",
        window: "readonly",
        DataTransfer: "readonly",
        ClipboardEvent: "readonly",
        DragEvent: "readonly",
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: strict,
  },
];
