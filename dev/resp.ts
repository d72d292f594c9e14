/**
 * A small RESP2 client for redis-server over plain TCP: the encoder, an incremental
 * reply parser, one pipelining connection and a pool of them. It exists for the
 * Upstash REST bridge and the tests' server fixtures, which need replies exactly as
 * Redis sends them (bulk strings as bytes, flat arrays, errors inside arrays) — a
 * client library would reshape them (ioredis turns HGETALL into an object) — and no
 * new dependency.
 *
 * Replies map to: bulk string → Buffer, simple string → string, integer → number,
 * nil → null, array → array, error → `RespError` (a value, not a throw, so one
 * element of a pipeline or of EXEC can fail alone).
 */
import net from "node:net";

/** An error reply (`-ERR …`, `-NOSCRIPT …`), kept as a value where it occurred. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespError";
  }
}

export type RespValue = Buffer | string | number | null | RespError | RespValue[];

const CR = 13;
const NEWLINE = "\r\n";

/** One command in RESP2 (an array of bulk strings); several concatenate into one write. */
export function encodeCommands(commands: readonly (readonly string[])[]): Buffer {
  let text = "";
  for (const args of commands) {
    text += `*${args.length}${NEWLINE}`;
    for (const arg of args) text += `$${Buffer.byteLength(arg, "utf8")}${NEWLINE}${arg}${NEWLINE}`;
  }
  return Buffer.from(text, "utf8");
}

interface Frame {
  items: RespValue[];
  remaining: number;
}

/**
 * Incremental RESP2 parser. It resumes where the data ran out (a stack of open arrays
 * and the length of a pending bulk string), so a large reply that arrives in many TCP
 * segments is neither re-parsed nor re-copied per segment.
 */
export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  private readonly queued: Buffer[] = [];
  private queuedLength = 0;
  private bulkLength = -1;
  private readonly stack: Frame[] = [];

  constructor(private readonly onReply: (value: RespValue) => void) {}

  push(chunk: Buffer): void {
    const available = this.buffer.length - this.offset + this.queuedLength + chunk.length;
    if (this.bulkLength >= 0 && available < this.bulkLength + 2) {
      this.queued.push(chunk);
      this.queuedLength += chunk.length;
      return;
    }
    if (this.offset >= this.buffer.length && this.queued.length === 0) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), ...this.queued, chunk]);
      this.queued.length = 0;
      this.queuedLength = 0;
    }
    this.offset = 0;
    this.parse();
  }

  private parse(): void {
    const buffer = this.buffer;
    while (this.offset < buffer.length) {
      if (this.bulkLength >= 0) {
        if (buffer.length - this.offset < this.bulkLength + 2) return;
        // A copy: a slice would pin the whole segment for as long as the value lives.
        const value = Buffer.from(buffer.subarray(this.offset, this.offset + this.bulkLength));
        this.offset += this.bulkLength + 2;
        this.bulkLength = -1;
        this.emit(value);
        continue;
      }
      const end = buffer.indexOf(CR, this.offset);
      if (end === -1 || end + 1 >= buffer.length) return;
      const type = buffer[this.offset];
      const line = buffer.toString("utf8", this.offset + 1, end);
      this.offset = end + 2;
      switch (type) {
        case 0x2b: // +
          this.emit(line);
          break;
        case 0x2d: // -
          this.emit(new RespError(line));
          break;
        case 0x3a: // :
          this.emit(Number(line));
          break;
        case 0x24: {
          // $
          const length = Number(line);
          if (length < 0) this.emit(null);
          else this.bulkLength = length;
          break;
        }
        case 0x2a: {
          // *
          const count = Number(line);
          if (count < 0) this.emit(null);
          else if (count === 0) this.emit([]);
          else this.stack.push({ items: [], remaining: count });
          break;
        }
        default:
          throw new Error(`RESP protocol error: unexpected type byte ${String(type)}`);
      }
    }
  }

  private emit(value: RespValue): void {
    let current = value;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) {
        this.onReply(current);
        return;
      }
      top.items.push(current);
      top.remaining -= 1;
      if (top.remaining > 0) return;
      this.stack.pop();
      current = top.items;
    }
  }
}

interface Pending {
  count: number;
  replies: RespValue[];
  resolve(replies: RespValue[]): void;
  reject(error: Error): void;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** `SELECT`ed right after connecting. */
  db?: number;
  connectTimeoutMs?: number;
}

/**
 * One connection. Requests are written as soon as they are made (pipelined) and their
 * replies matched in order; writes made in the same tick go out in one segment.
 */
export class RespConnection {
  private readonly pending: Pending[] = [];
  private head = 0;
  private corked = false;
  private failure: Error | null = null;
  private readonly closeListeners = new Set<() => void>();

  private constructor(private readonly socket: net.Socket) {
    const parser = new RespParser((value) => this.deliver(value));
    socket.on("data", (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on("error", (error) => {
      this.failure ??= error;
    });
    socket.once("close", () => {
      this.failure ??= new Error("connection to redis closed");
      const failure = this.failure;
      for (let i = this.head; i < this.pending.length; i++) this.pending[i]?.reject(failure);
      this.pending.length = 0;
      this.head = 0;
      for (const listener of this.closeListeners) listener();
    });
  }

  static async connect(options: ConnectOptions): Promise<RespConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const attempt = net.connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        attempt.destroy(new Error(`timed out connecting to redis at ${options.host}:${options.port}`));
      }, options.connectTimeoutMs ?? 5_000);
      attempt.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      attempt.once("connect", () => {
        clearTimeout(timer);
        attempt.removeAllListeners("error");
        resolve(attempt);
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const connection = new RespConnection(socket);
    if (options.db !== undefined && options.db !== 0) {
      try {
        await connection.call("SELECT", String(options.db));
      } catch (error) {
        await connection.close();
        throw error;
      }
    }
    return connection;
  }

  get closed(): boolean {
    return this.failure !== null || this.socket.destroyed;
  }

  /** Requests written whose replies have not all arrived. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  onClose(listener: () => void): void {
    this.closeListeners.add(listener);
  }

  /** Writes the commands back to back and resolves with their replies, in order. */
  send(commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    if (commands.length === 0) return Promise.resolve([]);
    if (this.closed) return Promise.reject(this.failure ?? new Error("connection to redis closed"));
    return new Promise<RespValue[]>((resolve, reject) => {
      this.pending.push({ count: commands.length, replies: [], resolve, reject });
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(encodeCommands(commands));
    });
  }

  /** One command; an error reply rejects with a `RespError`. */
  async call(...args: string[]): Promise<RespValue> {
    const [reply] = await this.send([args]);
    if (reply instanceof RespError) throw reply;
    return reply ?? null;
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.end();
      // QUIT is not sent, so Redis may keep the socket half-open; do not wait on it.
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    });
  }

  private deliver(value: RespValue): void {
    const request = this.pending[this.head];
    if (!request) {
      this.socket.destroy(new Error("RESP protocol error: a reply nobody asked for"));
      return;
    }
    request.replies.push(value);
    if (request.replies.length < request.count) return;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    request.resolve(request.replies);
  }
}

export interface PoolOptions extends ConnectOptions {
  /** Shared, pipelined connections. */
  size?: number;
  /** Connections lent out whole (MULTI/EXEC) at the same time; more callers wait. */
  maxDedicated?: number;
}

/**
 * Shared connections for independent commands (each request's commands are written
 * back to back on the least busy one), plus dedicated connections lent out one caller
 * at a time for commands that change connection state (MULTI … EXEC).
 */
export class RespPool {
  private readonly shared: Array<RespConnection | Promise<RespConnection> | null>;
  private readonly idle: RespConnection[] = [];
  private readonly waiters: Array<() => void> = [];
  private dedicatedInUse = 0;
  private readonly allConnections = new Set<RespConnection>();
  private isClosed = false;

  constructor(private readonly options: PoolOptions) {
    this.shared = Array.from({ length: Math.max(1, options.size ?? 4) }, () => null);
  }

  async send(commands: readonly (readonly string[])[]): Promise<RespValue[]> {
    const connection = await this.pick();
    return connection.send(commands);
  }

  /** Lends a connection to `use` alone; it goes back to the pool unless it broke. */
  async withDedicated<T>(use: (connection: RespConnection) => Promise<T>): Promise<T> {
    const limit = this.options.maxDedicated ?? 32;
    while (this.dedicatedInUse >= limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.dedicatedInUse += 1;
    let connection: RespConnection | undefined;
    try {
      connection = this.idle.pop() ?? (await this.open());
      const result = await use(connection);
      if (!connection.closed && !this.isClosed && connection.inFlight === 0) {
        this.idle.push(connection);
        connection = undefined;
      }
      return result;
    } finally {
      if (connection) await connection.close();
      this.dedicatedInUse -= 1;
      this.waiters.shift()?.();
    }
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await Promise.all([...this.allConnections].map((connection) => connection.close()));
    this.allConnections.clear();
    this.idle.length = 0;
  }

  private async pick(): Promise<RespConnection> {
    if (this.isClosed) throw new Error("redis pool is closed");
    let best: RespConnection | null = null;
    let emptySlot = -1;
    let connecting: Promise<RespConnection> | null = null;
    for (let i = 0; i < this.shared.length; i++) {
      const slot = this.shared[i];
      if (slot instanceof RespConnection) {
        if (slot.closed) {
          this.shared[i] = null;
          if (emptySlot === -1) emptySlot = i;
          continue;
        }
        if (slot.inFlight === 0) return slot;
        if (!best || slot.inFlight < best.inFlight) best = slot;
      } else if (slot) {
        connecting ??= slot;
      } else if (emptySlot === -1) {
        emptySlot = i;
      }
    }
    if (emptySlot !== -1) {
      const index = emptySlot;
      const opening = this.open().then(
        (connection) => {
          this.shared[index] = connection;
          return connection;
        },
        (error: unknown) => {
          this.shared[index] = null;
          throw error;
        },
      );
      this.shared[index] = opening;
      return opening;
    }
    if (best) return best;
    if (connecting) return connecting;
    throw new Error("redis pool has no connection");
  }

  private async open(): Promise<RespConnection> {
    const connection = await RespConnection.connect(this.options);
    if (this.isClosed) {
      await connection.close();
      throw new Error("redis pool is closed");
    }
    this.allConnections.add(connection);
    connection.onClose(() => {
      this.allConnections.delete(connection);
      const index = this.idle.indexOf(connection);
      if (index !== -1) this.idle.splice(index, 1);
    });
    return connection;
  }
}
