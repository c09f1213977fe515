// Where a node of an archive lies (format/catar-lookup.ts finds them).  A found
// location keeps its parent rather than a copy of its path, which it builds when
// asked: a node 10,000 directories deep would otherwise hold 10,000 components,
// and every node above it as many.

/** Where one node of an archive lies. */
export interface CatarNodeLocation {
  /** its path's components below the root; empty for the root */
  readonly path: readonly Uint8Array[];
  /** its own name (the last component); null for the root */
  readonly name: Uint8Array | null;
  /** archive offset of its FILENAME record; null for the root */
  filenameOffset: number | null;
  /** archive offset of its ENTRY record */
  entryOffset: number;
  /** archive offset just after it: after its GOODBYE for a directory */
  end: number;
  /** ENTRY mode */
  mode: number;
  /** directories: their GOODBYE record */
  goodbye: { offset: number; size: number } | null;
}

/** A location found by CatarLookup, its path built from its parent's when asked. */
export class FoundLocation implements CatarNodeLocation {
  readonly #parent: CatarNodeLocation | null;
  /** levels below the root */
  readonly #depth: number;

  constructor(
    parent: CatarNodeLocation | null,
    readonly name: Uint8Array | null,
    readonly filenameOffset: number | null,
    readonly entryOffset: number,
    readonly end: number,
    readonly mode: number,
    readonly goodbye: { offset: number; size: number } | null,
  ) {
    this.#parent = parent;
    this.#depth = parent ? depthOf(parent) + 1 : 0;
  }

  static depth(l: FoundLocation): number {
    return l.#depth;
  }

  get path(): readonly Uint8Array[] {
    const names: Uint8Array[] = [];
    let at: CatarNodeLocation | null = this;
    for (; at instanceof FoundLocation; at = at.#parent) if (at.name) names.push(at.name);
    return [...(at?.path ?? []), ...names.reverse()];
  }
}

/** Levels below the root. */
export const depthOf = (l: CatarNodeLocation) => (l instanceof FoundLocation ? FoundLocation.depth(l) : l.path.length);
