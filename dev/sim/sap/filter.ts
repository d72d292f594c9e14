/**
 * OData `$filter` as the Service Layer takes it on Items (docs/local-services.md): eq ne gt ge
 * lt le, and or not, parentheses, startswith endswith contains substringof, quoted
 * strings with '' escaping, numbers, true/false/null, and dates in the three documented
 * forms ('2024-04-23', '20240423', datetime'2024-04-23') compared by day: a time part
 * is accepted and ignored. Operators and functions are lower case, as OData spells them.
 * Anything else is a 400 with code -1000 saying what is wrong and where.
 *
 * `not` binds looser than a comparison (`not Valid eq 'tYES'` is `not (Valid eq 'tYES')`),
 * which is what people mean when they write it. A null field equals only null, and
 * differs from everything else (OData's rule, not SQL's unknown).
 */
import { fieldType, invalidQuery, printable, type FieldType } from "./fields.js";
import type { SapItem } from "./types.js";

type Token =
  | { kind: "word"; text: string; at: number }
  | { kind: "string"; text: string; at: number }
  | { kind: "datetime"; text: string; at: number }
  | { kind: "number"; value: number; at: number }
  | { kind: "punct"; text: "(" | ")" | ","; at: number }
  | { kind: "end"; at: number };

type CompareOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";
const COMPARE_OPS = new Set<string>(["eq", "ne", "gt", "ge", "lt", "le"]);
const FUNCTIONS = new Set<string>(["startswith", "endswith", "contains", "substringof"]);
const RESERVED = new Set<string>(["and", "or", "not", "true", "false", "null", ...COMPARE_OPS, ...FUNCTIONS]);

/** Nesting deeper than this is refused: a hostile filter must be a 400, not a stack overflow. */
const MAX_DEPTH = 100;
const MAX_LENGTH = 8192;

type Node =
  | { kind: "field"; name: keyof SapItem; type: FieldType; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "datetime"; value: string; at: number }
  | { kind: "number"; value: number; at: number }
  | { kind: "bool"; value: boolean; at: number }
  | { kind: "null"; at: number }
  | { kind: "call"; name: string; args: Node[]; at: number }
  | { kind: "compare"; op: CompareOp; left: Node; right: Node; at: number }
  | { kind: "logic"; op: "and" | "or"; left: Node; right: Node; at: number }
  | { kind: "not"; operand: Node; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i += 1;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: "punct", text: c, at: i });
      i += 1;
      continue;
    }
    if (c === "'") {
      const { value, next } = quoted(text, i);
      tokens.push({ kind: "string", text: value, at: i });
      i = next;
      continue;
    }
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?/.exec(text.slice(i, i + 64));
    if (number && (c !== "-" || /\d/.test(text[i + 1] ?? ""))) {
      const value = Number(number[0].replace(/[mMdDfFlL]$/, ""));
      if (!Number.isFinite(value)) throw invalidQuery(`Invalid $filter: number out of range at position ${i}`);
      tokens.push({ kind: "number", value, at: i });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 256));
    if (word) {
      const end = i + word[0].length;
      if (word[0] === "datetime" && text[end] === "'") {
        const { value, next } = quoted(text, end);
        tokens.push({ kind: "datetime", text: value, at: i });
        i = next;
        continue;
      }
      tokens.push({ kind: "word", text: word[0], at: i });
      i = end;
      continue;
    }
    throw invalidQuery(`Invalid $filter: unexpected character '${printable(c)}' at position ${i}`);
  }
  tokens.push({ kind: "end", at: text.length });
  return tokens;
}

/** A '…' literal starting at `start`, with '' standing for one quote. */
function quoted(text: string, start: number): { value: string; next: number } {
  let value = "";
  let i = start + 1;
  for (;;) {
    const end = text.indexOf("'", i);
    if (end === -1) throw invalidQuery(`Invalid $filter: unterminated string starting at position ${start}`);
    value += text.slice(i, end);
    if (text[end + 1] === "'") {
      value += "'";
      i = end + 2;
      continue;
    }
    return { value, next: end + 1 };
  }
}

class Parser {
  private index = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.or();
    const next = this.peek();
    if (next.kind !== "end") throw invalidQuery(`Invalid $filter: unexpected ${describe(next)} at position ${next.at}`);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index += 1;
    return token;
  }

  private isWord(text: string): boolean {
    const token = this.peek();
    return token.kind === "word" && token.text === text;
  }

  private deeper<T>(at: number, parse: () => T): T {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) throw invalidQuery(`Invalid $filter: nested more than ${MAX_DEPTH} levels at position ${at}`);
    try {
      return parse();
    } finally {
      this.depth -= 1;
    }
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord("or")) {
      const at = this.take().at;
      left = { kind: "logic", op: "or", left, right: this.and(), at };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord("and")) {
      const at = this.take().at;
      left = { kind: "logic", op: "and", left, right: this.not(), at };
    }
    return left;
  }

  private not(): Node {
    if (this.isWord("not")) {
      const at = this.take().at;
      return { kind: "not", operand: this.deeper(at, () => this.not()), at };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const left = this.operand();
    const next = this.peek();
    if (next.kind === "word" && COMPARE_OPS.has(next.text)) {
      this.take();
      return { kind: "compare", op: next.text as CompareOp, left, right: this.operand(), at: next.at };
    }
    return left;
  }

  private operand(): Node {
    const token = this.take();
    switch (token.kind) {
      case "string":
        return { kind: "string", value: token.text, at: token.at };
      case "datetime":
        return { kind: "datetime", value: toDay(token.text, token.at), at: token.at };
      case "number":
        return { kind: "number", value: token.value, at: token.at };
      case "punct":
        if (token.text === "(") {
          const inner = this.deeper(token.at, () => this.or());
          this.expect(")");
          return inner;
        }
        break;
      case "word":
        if (token.text === "true" || token.text === "false") return { kind: "bool", value: token.text === "true", at: token.at };
        if (token.text === "null") return { kind: "null", at: token.at };
        if (FUNCTIONS.has(token.text)) return this.call(token.text, token.at);
        if (RESERVED.has(token.text)) break;
        if (this.peek().kind === "punct" && (this.peek() as { text: string }).text === "(") {
          throw invalidQuery(`Invalid $filter: unknown function '${printable(token.text)}' at position ${token.at}`);
        }
        return { kind: "field", name: token.text as keyof SapItem, type: fieldType(token.text), at: token.at };
      case "end":
        throw invalidQuery(`Invalid $filter: the expression ends where an operand was expected (position ${token.at})`);
    }
    throw invalidQuery(`Invalid $filter: expected an operand but found ${describe(token)} at position ${token.at}`);
  }

  private call(name: string, at: number): Node {
    this.expect("(");
    const args: Node[] = [];
    this.deeper(at, () => {
      for (;;) {
        args.push(this.or());
        const next = this.take();
        if (next.kind === "punct" && next.text === ")") return;
        if (next.kind !== "punct" || next.text !== ",") {
          throw invalidQuery(`Invalid $filter: expected ',' or ')' in ${name}() but found ${describe(next)} at position ${next.at}`);
        }
      }
    });
    if (args.length !== 2) throw invalidQuery(`Invalid $filter: ${name}() takes 2 arguments, not ${args.length} (position ${at})`);
    return { kind: "call", name, args, at };
  }

  private expect(text: "(" | ")"): void {
    const token = this.take();
    if (token.kind !== "punct" || token.text !== text) {
      throw invalidQuery(`Invalid $filter: expected '${text}' but found ${describe(token)} at position ${token.at}`);
    }
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case "end":
      return "the end of the expression";
    case "number":
      return `'${token.value}'`;
    case "string":
      return `'${printable(token.text)}'`;
    case "datetime":
      return `datetime'${printable(token.text)}'`;
    default:
      return `'${printable(token.text)}'`;
  }
}

/**
 * A day as YYYY-MM-DD from 'YYYY-MM-DD' or 'YYYYMMDD', each optionally followed by a
 * time (with T or a space), which is ignored: the Service Layer compares dates by day.
 */
export function toDay(text: string, at: number): string {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  const bad = () => invalidQuery(`Invalid $filter: '${printable(text)}' is not a valid date (position ${at})`);
  if (!match) throw bad();
  const [, year, month, day] = match as unknown as [string, string, string, string];
  // Both separators or neither: 2024-0423 is no form the Service Layer documents.
  const dashes = text.slice(0, 10).split("-").length - 1;
  if (dashes !== 0 && dashes !== 2) throw bad();
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) {
    throw bad();
  }
  return `${year}-${month}-${day}`;
}

type Value = string | number | boolean | null;
type ValueType = "string" | "number" | "date" | "bool" | "null";
interface Compiled {
  type: ValueType;
  /** A literal: its value, known at compile time (string literals may turn into dates). */
  literal?: { value: Value; node: Node };
  get: (item: SapItem) => Value;
}

function compile(node: Node): Compiled {
  switch (node.kind) {
    case "field": {
      if (node.type === "collection") {
        throw invalidQuery(`Invalid $filter: '${node.name}' is a collection and cannot be compared (position ${node.at})`);
      }
      const name = node.name;
      return { type: node.type, get: (item) => item[name] as Value };
    }
    case "string":
      return constant("string", node.value, node);
    case "datetime":
      return constant("date", node.value, node);
    case "number":
      return constant("number", node.value, node);
    case "bool":
      return constant("bool", node.value, node);
    case "null":
      return constant("null", null, node);
    case "call":
      return compileCall(node);
    case "compare":
      return compileCompare(node);
    case "logic": {
      const left = boolean(compile(node.left), node.left, node.op);
      const right = boolean(compile(node.right), node.right, node.op);
      const get = node.op === "and" ? (item: SapItem) => left(item) && right(item) : (item: SapItem) => left(item) || right(item);
      return { type: "bool", get };
    }
    case "not": {
      const operand = boolean(compile(node.operand), node.operand, "not");
      return { type: "bool", get: (item) => !operand(item) };
    }
  }
}

function constant(type: ValueType, value: Value, node: Node): Compiled {
  return { type, literal: { value, node }, get: () => value };
}

function boolean(compiled: Compiled, node: Node, context: string): (item: SapItem) => boolean {
  if (compiled.type !== "bool") {
    throw invalidQuery(`Invalid $filter: '${context}' needs a true/false expression at position ${node.at}, not a ${compiled.type}`);
  }
  return compiled.get as (item: SapItem) => boolean;
}

function compileCall(node: Extract<Node, { kind: "call" }>): Compiled {
  const [first, second] = node.args.map((arg) => {
    const compiled = compile(arg);
    if (compiled.type !== "string") {
      throw invalidQuery(`Invalid $filter: ${node.name}() takes text, not a ${compiled.type} (position ${arg.at})`);
    }
    return compiled.get as (item: SapItem) => string | null;
  }) as [(item: SapItem) => string | null, (item: SapItem) => string | null];
  // substringof(needle, haystack) is OData v3's contains(haystack, needle).
  const [haystack, needle] = node.name === "substringof" ? [second, first] : [first, second];
  const test =
    node.name === "startswith"
      ? (h: string, n: string) => h.startsWith(n)
      : node.name === "endswith"
        ? (h: string, n: string) => h.endsWith(n)
        : (h: string, n: string) => h.includes(n);
  return {
    type: "bool",
    get: (item) => {
      const h = haystack(item);
      const n = needle(item);
      return h !== null && n !== null && test(h, n);
    },
  };
}

function compileCompare(node: Extract<Node, { kind: "compare" }>): Compiled {
  let left = compile(node.left);
  let right = compile(node.right);
  // A quoted literal next to a date is a date ('2024-04-23' or '20240423').
  if (left.type === "date" && right.type === "string" && right.literal) right = asDate(right);
  if (right.type === "date" && left.type === "string" && left.literal) left = asDate(left);
  const { op } = node;
  if (left.type === "null" || right.type === "null") {
    if (op !== "eq" && op !== "ne") throw invalidQuery(`Invalid $filter: null can only be compared with eq or ne (position ${node.at})`);
  } else if (left.type !== right.type) {
    throw invalidQuery(`Invalid $filter: cannot compare a ${left.type} with a ${right.type} (position ${node.at})`);
  } else if (left.type === "bool" && op !== "eq" && op !== "ne") {
    throw invalidQuery(`Invalid $filter: true/false can only be compared with eq or ne (position ${node.at})`);
  }
  const a = left.get;
  const b = right.get;
  const get = (item: SapItem): boolean => {
    const x = a(item);
    const y = b(item);
    if (x === null || y === null) return op === "eq" ? x === y : op === "ne" ? x !== y : false;
    switch (op) {
      case "eq":
        return x === y;
      case "ne":
        return x !== y;
      case "gt":
        return x > y;
      case "ge":
        return x >= y;
      case "lt":
        return x < y;
      case "le":
        return x <= y;
    }
  };
  return { type: "bool", get };
}

function asDate(compiled: Compiled): Compiled {
  const literal = compiled.literal as { value: Value; node: Node };
  const day = toDay(String(literal.value), literal.node.at);
  return constant("date", day, literal.node);
}

/** A predicate over items, or a 400 (code -1000) saying what is wrong with the filter. */
export function compileFilter(text: string): (item: SapItem) => boolean {
  if (text.length > MAX_LENGTH) throw invalidQuery(`Invalid $filter: longer than ${MAX_LENGTH} characters`);
  if (text.trim() === "") throw invalidQuery("Invalid $filter: the expression is empty");
  const compiled = compile(new Parser(tokenize(text)).parse());
  if (compiled.type !== "bool") throw invalidQuery(`Invalid $filter: the expression is a ${compiled.type}, not true/false`);
  return compiled.get as (item: SapItem) => boolean;
}
