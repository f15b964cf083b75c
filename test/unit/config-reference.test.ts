/** Issue 22 item 12: README's config reference is generated from the zod schema and cannot drift from it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, configReference } from '../../scripts/build/config-reference';
import { z } from '../../stacks/zod';
import { fleetSchema } from '../../stacks/config';

const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

describe('the config reference in README.md', () => {
  it('is exactly what the schema generates (regenerate: npx tsx scripts/build/config-reference.ts --write)', () => {
    const a = readme.indexOf(BEGIN);
    const b = readme.indexOf(END);
    expect(a, 'README.md lacks the config-reference markers').toBeGreaterThan(0);
    expect(readme.slice(a + BEGIN.length, b).trim()).toBe(configReference());
  });

  it('has a row for every field of the schema, with its default', () => {
    const ref = configReference();
    const schema = z.toJSONSchema(fleetSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> };
    for (const [k, v] of Object.entries(schema.properties)) {
      expect(ref).toContain(`| \`${k}\` |`);
      if (v.default !== undefined) expect(ref).toContain(`| \`${k}\` | `);
      for (const [k2, v2] of Object.entries(v.properties ?? {})) {
        const row = ref.split('\n').find((l) => l.startsWith(`| \`${k}.${k2}\` |`));
        expect(row, `${k}.${k2}`).toBeDefined();
        if (v2.default !== undefined) expect(row).toContain(`\`${JSON.stringify(v2.default)}\``);
      }
    }
    expect(ref).toMatch(/^\| `tuning\.nofile` \| integer 1024–1073741816 \| `1048576` \|/m);
  });
});
