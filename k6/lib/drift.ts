// Soak: does latency drift? Requests are tagged with the window of the run they fall in, and each VU
// compares its late-window requests with its own early-window median, endpoint by endpoint (k6 VUs share
// no memory, so the comparison is per VU; the k6 threshold is on the median of all those ratios).

export type SoakWindow = 'warmup' | 'early' | 'middle' | 'late';

/** warm-up: first 10 %; early: 10–25 %; late: the last 15 %; middle: the rest. */
export function soakWindow(elapsedMs: number, durationMs: number): SoakWindow {
  const share = durationMs > 0 ? elapsedMs / durationMs : 0;
  if (share < 0.1) return 'warmup';
  if (share < 0.25) return 'early';
  if (share >= 0.85) return 'late';
  return 'middle';
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export class DriftTracker {
  private readonly early = new Map<string, number[]>();

  /** Records an early-window duration; returns the late/early ratio for a late-window one, else undefined. */
  observe(window: SoakWindow, endpoint: string, durationMs: number): number | undefined {
    if (window === 'early') {
      const samples = this.early.get(endpoint) ?? [];
      samples.push(durationMs);
      this.early.set(endpoint, samples);
      return undefined;
    }
    if (window !== 'late') return undefined;
    const samples = this.early.get(endpoint);
    if (!samples || samples.length < 5) return undefined; // too few to call a median a baseline
    return durationMs / Math.max(median(samples), 0.001);
  }
}
