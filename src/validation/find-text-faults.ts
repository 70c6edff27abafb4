import { ItemErrorCode } from "../lib/error-codes.ts";
import type { ItemError } from "../lib/errors.ts";
import { isObject } from "./describe-issues.ts";
import type { ItemErrorList } from "./item-error-list.ts";
import { textFault } from "./text.ts";

/**
 * A value left to look at, and where it is: its key in its parent, linked up to the root, so a
 * path is spelt only for a fault. `fault` marks a field name already found at fault.
 */
interface Visit {
  value: unknown;
  key: string | number | null;
  parent: Visit | null;
  fault?: string;
}

/** Longest field name a fault's path repeats as sent. */
const SHOWN_NAME = 100;
/** Longest path a fault names: a deeply nested one keeps its two ends. */
const SHOWN_PATH = 200;

/**
 * Adds to `into` every string in a parsed JSON value (a body, a query string, path parameters)
 * that Postgres text cannot store, field names included, each named by its path
 * (`events[3].customer`, `filter.code`; `root` names a bare string), in document order.
 * Iterative, so a deeply nested body cannot exhaust the stack; once the list is full the rest
 * are counted, not described.
 */
export function findTextFaults(value: unknown, into: ItemErrorList, root = "body"): void {
  const stack: Visit[] = [{ value, key: null, parent: null }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const { value: v, fault: nameFault } = visit;
    if (nameFault !== undefined) {
      const at = visit;
      into.add(() => faultAt(at, root, `field name ${pathOf(at, root)} ${nameFault}`));
    } else if (typeof v === "string") {
      const fault = textFault(v);
      const at = visit;
      if (fault !== null) into.add(() => faultAt(at, root, `${pathOf(at, root)} ${fault}`));
    } else if (Array.isArray(v)) {
      // Pushed last to first, so faults are found in document order.
      for (let i = v.length - 1; i >= 0; i--) push(stack, v[i], i, visit);
    } else if (isObject(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] ?? "";
        push(stack, v[key], key, visit);
        const fault = textFault(key);
        if (fault !== null) stack.push({ value: key, key, parent: visit, fault });
      }
    }
  }
}

/** Queues a value that may hold text: numbers, booleans and null cannot. */
function push(stack: Visit[], value: unknown, key: string | number, parent: Visit): void {
  if (typeof value === "string" || (typeof value === "object" && value !== null)) {
    stack.push({ value, key, parent });
  }
}

function faultAt(at: Visit, root: string, message: string): ItemError {
  return {
    index: itemIndex(at),
    field: pathOf(at, root),
    code: ItemErrorCode.invalid_characters,
    message,
  };
}

/** `events[3].customer` for the keys events → 3 → customer; `root` for the root itself. */
function pathOf(at: Visit, root: string): string {
  const keys: Array<string | number> = [];
  for (let v: Visit | null = at; v !== null; v = v.parent) if (v.key !== null) keys.push(v.key);
  if (keys.length === 0) return root;
  let path = "";
  for (const key of keys.reverse()) {
    if (typeof key === "number") path += `[${key}]`;
    else {
      const name = key.length > SHOWN_NAME ? `${key.slice(0, SHOWN_NAME)}…` : key;
      path += path === "" ? name : `.${name}`;
    }
  }
  const half = SHOWN_PATH / 2;
  return path.length > SHOWN_PATH ? `${path.slice(0, half)}…${path.slice(-half)}` : path;
}

/** The item a fault is in: the first array index on its path (`events[3]` → 3), else 0. */
function itemIndex(at: Visit): number {
  let index = 0;
  for (let v: Visit | null = at; v !== null; v = v.parent)
    if (typeof v.key === "number") index = v.key;
  return index;
}
