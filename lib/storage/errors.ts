/**
 * What the object store tells its callers, as AppErrors so that a route answers with
 * the right status without knowing about storage.
 */
import { AppError, type ErrorCode } from "../errors.js";

export class StorageError extends AppError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = "StorageError";
  }
}

/** A key (or prefix, or range) refused before any request was made. */
export class InvalidObjectKeyError extends StorageError {
  constructor(
    readonly reason: string,
    key: unknown,
  ) {
    super("bad_request", `Refused object key ${describeKey(key)}: ${reason}.`);
    this.name = "InvalidObjectKeyError";
  }
}

export class InvalidRangeError extends StorageError {
  constructor(message: string) {
    super("bad_request", message);
    this.name = "InvalidRangeError";
  }
}

export class ObjectNotFoundError extends StorageError {
  constructor(readonly key: string) {
    super("not_found", `No stored object ${describeKey(key)}.`);
    this.name = "ObjectNotFoundError";
  }
}

/** A put without `overwrite` onto a key that already holds an object. */
export class ObjectExistsError extends StorageError {
  constructor(
    readonly key: string,
    options: { cause?: unknown } = {},
  ) {
    super("conflict", `An object ${describeKey(key)} already exists (pass overwrite to replace it).`, options);
    this.name = "ObjectExistsError";
  }
}

/** The store refused our credentials: a configuration problem, not the caller's. */
export class StorageRefusedError extends StorageError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("misconfigured", message, options);
    this.name = "StorageRefusedError";
  }
}

/** The store did not answer, or kept failing, through every retry. */
export class StorageUnavailableError extends StorageError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("service_unavailable", message, options);
    this.name = "StorageUnavailableError";
  }
}

/**
 * A key as it may appear in a message: JSON-quoted, so control characters show as
 * escapes instead of reaching a log line raw, and cut short.
 */
function describeKey(key: unknown): string {
  if (typeof key !== "string") return `(${typeof key})`;
  const quoted = JSON.stringify(key.length > 120 ? `${key.slice(0, 120)}…` : key);
  return quoted;
}
