// TEMPORARY placeholder until the native boundary lands (replaced by the addon wrapper).
import type { Socket } from 'node:net';
export function originalDst(_s: Socket): { address: string; port: number; family: 4 | 6 } | null {
  return null;
}
