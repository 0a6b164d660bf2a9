// Shim of `k6/metrics`.
import { record, type Sample } from './state.ts';

class Metric {
  readonly name: string;
  private readonly type: Sample['type'];
  constructor(name: string, type: Sample['type']) {
    this.name = name;
    this.type = type;
  }
  add(value: number | boolean, tags?: Record<string, string>) {
    record(this.name, this.type, Number(value), tags);
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
export class Trend extends Metric {
  constructor(name: string) {
    super(name, 'trend');
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
