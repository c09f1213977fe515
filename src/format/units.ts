// Byte counts as casync reads and prints them.

const SIZE_UNITS: [string, number][] = [
  ['E', 1024 ** 6],
  ['P', 1024 ** 5],
  ['T', 1024 ** 4],
  ['G', 1024 ** 3],
  ['M', 1024 ** 2],
  ['K', 1024],
  ['B', 1],
  ['', 1],
];

/**
 * casync's parse_size(): one or more terms "<number>[.<fraction>]<unit>" with units
 * E P T G M K B (powers of 1024) in descending order, summed ("1M512K").
 * Returns null where casync fails.
 */
export function parseSize(text: string): number | null {
  let total = 0;
  let rest = text;
  let firstUnit = 0;
  do {
    const m = /^\s*(\d+)(?:\.(\d*))?\s*/.exec(rest);
    if (!m) return null;
    rest = rest.slice(m[0].length);
    const unit = SIZE_UNITS.findIndex(([u], i) => i >= firstUnit && rest.startsWith(u));
    if (unit < 0) return null;
    const [suffix, factor] = SIZE_UNITS[unit];
    const frac = m[2] ? Number(`0.${m[2]}`) : 0;
    total += Number(m[1]) * factor + Math.trunc(frac * factor);
    if (!Number.isSafeInteger(total)) return null;
    rest = rest.slice(suffix.length);
    firstUnit = unit + 1;
  } while (rest.length);
  return total;
}

/** casync's format_bytes(): "976.5K", "1.0G", "512B". */
export function formatBytes(n: number): string {
  for (const [suffix, factor] of SIZE_UNITS.slice(0, 6)) {
    if (n >= factor) return `${Math.floor(n / factor)}.${Math.floor((n * 10) / factor) % 10}${suffix}`;
  }
  return `${n}B`;
}
