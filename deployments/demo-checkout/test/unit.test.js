// The demo's unit tests: real assertions, run by `npm run test:unit` before a staging deploy.
const test = require("node:test");
const assert = require("node:assert");

test("release tags look like vYYYY.MM.DD plus a letter", () => {
  assert.match("v2025.10.14a", /^v\d{4}\.\d{2}\.\d{2}[a-z]$/);
});
