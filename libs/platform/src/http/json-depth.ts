import { fieldPath } from '../errors/api-error';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

interface Frame {
  array: boolean;
  /** Arrays: the index of the current item. */
  index: number;
  /** Objects: where the current member's key (with its quotes) starts and ends. */
  keyStart: number;
  keyEnd: number;
}

/** The end of the string whose opening quote is at `start`: the index after its closing quote, or -1. */
function endOfString(bytes: Uint8Array, buffer: Buffer, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = buffer.indexOf(QUOTE, at);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    // An odd run of backslashes escapes the quote; an even one escapes itself.
    if (backslashes % 2 === 0) return quote + 1;
    at = quote + 1;
  }
}

/**
 * The path (`events[0].customdata.a`, as ErrorDetail.field writes it) of the first container nested deeper than
 * `maxDepth` in JSON `text`, the document itself being depth 1; undefined when none is. One pass over the bytes, before
 * any parsing: a body of half a million nested brackets is refused without JSON.parse building half a million arrays.
 * It counts brackets outside strings and does not validate the JSON: JSON.parse still does that for bodies it lets
 * through.
 */
export function firstTooDeep(text: Buffer, maxDepth: number): string | undefined {
  // Most bodies are well within the limit: counted without a frame per container (a batch has hundreds), and only a
  // body that goes past it is walked again to spell out where.
  return deeperThan(text, maxDepth) ? pathOfFirstTooDeep(text, maxDepth) : undefined;
}

/** Whether a container of `bytes` is nested deeper than `maxDepth`, counted as firstTooDeep counts. */
function deeperThan(bytes: Buffer, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      const end = endOfString(bytes, bytes, i);
      if (end === -1) return false;
      i = end - 1;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if ((byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) && depth > 0) {
      depth--;
    }
  }
  return false;
}

function pathOfFirstTooDeep(text: Buffer, maxDepth: number): string | undefined {
  const bytes = text;
  const stack: Frame[] = [];
  let member = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      const end = endOfString(bytes, text, i);
      if (end === -1) return undefined;
      const top = stack[stack.length - 1];
      if (top !== undefined && !top.array && !member) {
        top.keyStart = i;
        top.keyEnd = end;
      }
      i = end - 1;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (stack.length === maxDepth) return pathOf(stack, text);
      stack.push({ array: byte === OPEN_ARRAY, index: 0, keyStart: -1, keyEnd: -1 });
      member = false;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      stack.pop();
      member = stack.length > 0;
    } else if (byte === COLON) {
      member = true;
    } else if (byte === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.array === true) top.index++;
      member = top?.array === true;
    }
  }
  return undefined;
}

function pathOf(stack: readonly Frame[], text: Buffer): string {
  let path = '';
  for (const frame of stack) {
    if (frame.array) path = fieldPath(path, frame.index);
    else if (frame.keyStart >= 0) path = fieldPath(path, keyAt(text, frame));
  }
  return path;
}

function keyAt(text: Buffer, frame: Frame): string {
  const quoted = text.toString('utf8', frame.keyStart, frame.keyEnd);
  try {
    return JSON.parse(quoted) as string;
  } catch {
    // Not valid JSON, which JSON.parse would refuse anyway: the key as written.
    return quoted.slice(1, -1);
  }
}
