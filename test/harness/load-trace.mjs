// Preload (node --import) that records which packages a CLI run loads, to $LOADFLEET_LOAD_TRACE:
// ESM resolutions through a resolve hook, CommonJS ones (require, createRequire) from the module cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.LOADFLEET_LOAD_TRACE;
if (file) {
  register('data:text/javascript,' + encodeURIComponent(`
    import { appendFileSync } from 'node:fs';
    let out;
    export function initialize(data) { out = data.file; }
    export async function resolve(spec, ctx, next) {
      const r = await next(spec, ctx);
      appendFileSync(out, r.url + '\\n');
      return r;
    }`), { parentURL: import.meta.url, data: { file } });
  const Module = createRequire(import.meta.url)('node:module');
  process.on('exit', () => appendFileSync(file, Object.keys(Module._cache).join('\n') + '\n'));
}
