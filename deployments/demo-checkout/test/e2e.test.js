// The demo's end-to-end test: staging answers /health (FLY_APP_URL_TEMPLATE points at flysim).
const test = require("node:test");
const assert = require("node:assert");

test("staging answers /health", async () => {
  const template = process.env.FLY_APP_URL_TEMPLATE || "https://{app}.fly.dev";
  const url = template.replace("{app}", "hotdash-staging") + "/health";
  const response = await fetch(url);
  assert.strictEqual(response.status, 200);
});
