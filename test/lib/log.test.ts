import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  addLogSink,
  configureLogging,
  formatPretty,
  type LogRecord,
  logger,
  memorySink,
  redactText,
  runWithContext,
} from "../../lib/log/index.js";

let sink: ReturnType<typeof memorySink>;
let remove: () => void;

beforeEach(() => {
  configureLogging({ level: "debug", format: "json", stdout: false });
  sink = memorySink();
  remove = addLogSink(sink);
});
afterEach(() => {
  remove();
  configureLogging({ level: "warn", format: "pretty" });
});

describe("structured logger", () => {
  it("writes one JSON line per record with level, service, operation, correlation id and fields", () => {
    runWithContext({ correlationId: "req-123" }, () => {
      logger("imports").child({ operation: "planChunks" }).info("planned chunks", { file: "a.csv", chunks: 120 });
    });
    expect(sink.lines).toHaveLength(1);
    const line = sink.lines[0] as string;
    expect(line.endsWith("\n")).toBe(true);
    expect(JSON.parse(line)).toMatchObject({
      level: "info",
      service: "imports",
      operation: "planChunks",
      correlation_id: "req-123",
      msg: "planned chunks",
      file: "a.csv",
      chunks: 120,
    });
    expect(Date.parse((JSON.parse(line) as LogRecord).time)).not.toBeNaN();
  });

  it("filters by level", () => {
    configureLogging({ level: "warn", format: "json", stdout: false });
    const log = logger("t");
    log.info("quiet");
    log.warn("loud");
    expect(sink.records.map((r) => r.msg)).toEqual(["loud"]);
  });

  it("redacts tokens, passwords, authorization headers and connection strings", () => {
    logger("db").error("could not connect to postgres://app:hunter2@db.example.com:5432/prod", {
      headers: { authorization: "Bearer abcdef0123456789", "content-type": "text/csv" },
      request: new Headers({ Authorization: "Basic dXNlcjpwYXNz" }),
      config: { apiTokens: ["tok_live_1234567890abcdef"], password: "p@ss", nested: { token: "xyz" } },
      url: "https://api.example.com/x?token=sekrit&page=2",
      err: new Error("auth failed for postgresql://svc:pa55word@10.0.0.1/db"),
    });
    const line = sink.lines[0] as string;
    for (const secret of [
      "hunter2",
      "abcdef0123456789",
      "dXNlcjpwYXNz",
      "tok_live",
      "p@ss",
      "xyz",
      "sekrit",
      "pa55word",
    ]) {
      expect(line).not.toContain(secret);
    }
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(record.msg).toBe("could not connect to postgres://app:[redacted]@db.example.com:5432/prod");
    expect(record.headers).toEqual({ authorization: "[redacted]", "content-type": "text/csv" });
    expect(record.url).toBe("https://api.example.com/x?token=[redacted]&page=2");
    expect(record.err).toMatchObject({
      type: "Error",
      message: "auth failed for postgresql://svc:[redacted]@10.0.0.1/db",
    });
  });

  it("times an operation with start -> finish / finishWithError", async () => {
    const log = logger("jobs");
    const timer = log.start("claimChunk", { chunk: 7 });
    await new Promise((resolve) => setTimeout(resolve, 15));
    const ms = timer.finish("claimed");
    log.start("completeChunk").finishWithError(new Error("boom"));
    const [ok, failed] = sink.records;
    expect(ok).toMatchObject({ level: "info", operation: "claimChunk", msg: "claimed", chunk: 7 });
    expect(ok?.duration_ms).toBe(ms);
    expect(ms).toBeGreaterThanOrEqual(10);
    expect(failed).toMatchObject({ level: "error", operation: "completeChunk", msg: "completeChunk failed" });
    expect(failed?.err).toMatchObject({ message: "boom" });
  });

  it("formats the readable development line", () => {
    const line = formatPretty({
      time: "2025-07-18T12:17:59.344Z",
      level: "info",
      service: "imports",
      operation: "planChunks",
      correlation_id: "req-123",
      duration_ms: 41.2,
      msg: "planned chunks",
      file: "a.csv",
      chunks: 120,
      note: "two words",
    });
    expect(line).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[INFO\] \[imports\] \[planChunks\] \[req-123\] \[41ms\] planned chunks file=a.csv chunks=120 note="two words"$/,
    );
  });

  it("masks bearer tokens and key=value secrets inside free text", () => {
    expect(redactText("Authorization: Bearer abc.def-ghi")).toBe("Authorization: Bearer [redacted]");
    expect(redactText("host=db password=x1 sslmode=require")).toBe("host=db password=[redacted] sslmode=require");
  });
});
