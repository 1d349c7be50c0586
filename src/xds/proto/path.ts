// Field paths for error messages, built only when an error is reported. The decoders visit
// every field of every resource; a 5,000-cluster push spent measurable time building path
// strings that were never read. A LazyPath is a link to its parent; toString() renders
// `a.b[3]["key"]` exactly as join()/mapPath() would.
import { join } from '../../config/issues';
import { mapPath } from './descriptors';

export type PathLike = string | LazyPath;

const FIELD = 0;
const INDEX = 1;
const MAP_KEY = 2;

export class LazyPath {
  private constructor(
    private readonly base: PathLike,
    private readonly key: string | number,
    private readonly kind: number,
  ) {}

  static field(base: PathLike, name: string): LazyPath {
    return new LazyPath(base, name, FIELD);
  }

  static index(base: PathLike, i: number): LazyPath {
    return new LazyPath(base, i, INDEX);
  }

  static mapKey(base: PathLike, k: string): LazyPath {
    return new LazyPath(base, k, MAP_KEY);
  }

  toString(): string {
    const b = typeof this.base === 'string' ? this.base : this.base.toString();
    return this.kind === MAP_KEY ? mapPath(b, this.key as string) : join(b, this.key);
  }
}

export function pathString(p: PathLike): string {
  return typeof p === 'string' ? p : p.toString();
}
