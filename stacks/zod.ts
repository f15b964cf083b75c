/**
 * zod, loaded through require. Why: under tsx's ESM loader hooks zod's ESM build (≈80 modules) costs
 * ~160 ms to load and its CommonJS build ~60 ms; every loadfleet command pays this at start.
 * Types come from the ESM declarations, which describe the same API.
 */
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';

export const z: typeof Zod = (createRequire(import.meta.url)('zod') as { z: typeof Zod }).z;
export type { Zod };
