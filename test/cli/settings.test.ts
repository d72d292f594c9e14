/**
 * The CLI's settings (lib/config.ts, loadCliSettings): each from its flag, else from its
 * variable, checked, and a problem named by where the value came from, never by value.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadCliSettings } from "../../lib/config.js";

function issuesOf(run: () => unknown): Array<{ variable: string; problem: string }> {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadCliSettings", () => {
  const env = { DROPFLOW_URL: "https://dropflow.example.com/", DROPFLOW_TOKEN: "env-token-0123456789", VERCEL_BLOB_API_URL: "" };

  it("takes the variables, a flag over its variable, the URL without its trailing slash", () => {
    expect(loadCliSettings({}, env)).toEqual({ url: "https://dropflow.example.com", token: "env-token-0123456789", blobApiUrl: null });
    expect(loadCliSettings({ url: "http://127.0.0.1:3000", token: "flag-token" }, env)).toEqual({
      url: "http://127.0.0.1:3000",
      token: "flag-token",
      blobApiUrl: null,
    });
    expect(loadCliSettings({}, {})).toEqual({ url: null, token: null, blobApiUrl: null });
    expect(loadCliSettings({}, { VERCEL_BLOB_API_URL: "http://127.0.0.1:4567" }).blobApiUrl).toBe("http://127.0.0.1:4567");
  });

  it("names the flag or the variable a bad value came from, not the value", () => {
    expect(issuesOf(() => loadCliSettings({ url: "localhost:3000" }, env))).toEqual([{ variable: "--url", problem: "must be an http(s) URL" }]);
    const fromEnv = issuesOf(() => loadCliSettings({}, { DROPFLOW_URL: "ftp://x", DROPFLOW_TOKEN: "has space" }));
    expect(fromEnv.map((issue) => issue.variable)).toEqual(["DROPFLOW_URL", "DROPFLOW_TOKEN"]);
    expect(JSON.stringify(fromEnv)).not.toContain("has space");
    expect(issuesOf(() => loadCliSettings({ blobApiUrl: "nope" }, {}))).toEqual([{ variable: "--blob-api-url", problem: "must be an http(s) URL" }]);
  });
});
