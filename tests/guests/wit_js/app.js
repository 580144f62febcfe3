// A componentize-js guest for tests/test_wit.py: exports a resource, imports a WASI interface.
import { getEnvironment } from "wasi:cli/environment@0.2.3";
class Counter {
  constructor(start) { this.v = start; }
  add(n) { this.v += n; return this.v; }
  value() { return this.v; }
}
export const counters = {
  Counter,
  describe(p) { return `${p.a}:${p.b ?? "none"}:${getEnvironment().length}`; },
};
export function hello(name) { return `Hello, ${name}!`; }
