export {
  CORRELATION_HEADERS,
  correlationIdFrom,
  currentContext,
  currentCorrelationId,
  type LogContext,
  newCorrelationId,
  runWithContext,
} from "./context.js";
export { formatPretty } from "./format.js";
export { addLogSink, configureLogging, type Fields, type Logger, logger, type Timer } from "./logger.js";
export { isSecretKey, REDACTED, redactText, redactValue } from "./redact.js";
export { type LogEntry, type LogRecord, type LogSink, memorySink, stdoutSink } from "./sink.js";
