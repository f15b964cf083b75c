/**
 * The sh nGrinder's run driver sends to the controller: every variant passes shellcheck, and the API
 * calls really work with curl and dash against a local HTTP server on 127.0.0.1 standing in for the
 * controller's port. That server only records what arrives (auth, method, path, body, multipart part):
 * it proves loadfleet's side of the wire (credentials on curl's stdin, bodies from files, status line
 * parsing), NOT how a real nGrinder controller answers, which cannot run here.
 */
import { execa } from 'execa';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCallScript, createFolderCall, logsTarScript, parseApiOutput, reportCsvScript, testDirScript, type ApiCall } from '../../scripts/run/ngrinder-api';
import { shellcheck } from '../harness/shellcheck';

const PASSWORD = 'Abcdefghij0123456789XYZ';
const CALLS: ApiCall[] = [
  { method: 'GET', path: '/perftest/api/7/sample' },
  { method: 'POST', path: '/perftest/api', json: { testName: "loadfleet it's", agentCount: 2 } },
  { method: 'PUT', path: '/perftest/api/7?action=stop' },
  { method: 'DELETE', path: '/perftest/api/7' },
  { method: 'POST', path: '/script/api/loadfleet?action=upload', upload: { fileName: 'loadfleet-r1.groovy', content: '@RunWith(GrinderRunner)\nclass T { @Test void t() {} }\n', description: 'loadfleet run r1' } },
  // The run's uploaded script, deleted after collect (FileEntryApiController @RestAPI DELETE /script/api/{path}).
  { method: 'DELETE', path: '/script/api/loadfleet/loadfleet-r1.groovy' },
  // FileEntryApiController.addFolder(…, @RequestBody String folderName) (ngrinder-3.5.9-p1-20240613): the name is the body.
  createFolderCall(),
];

describe('nGrinder run sh', () => {
  it('passes shellcheck (sh and dash)', () => {
    const scripts = [
      ...CALLS.map((c, i) => ({ label: `api ${i} ${c.method} ${c.path}`, text: apiCallScript(PASSWORD, 'http://127.0.0.1:80', c) })),
      { label: 'test dir', text: testDirScript('/var/lib/loadfleet/ngrinder', 7) },
      { label: 'report csv', text: reportCsvScript('/var/lib/loadfleet/ngrinder/perftest/0_999/7') },
      { label: 'logs tar', text: logsTarScript('/var/lib/loadfleet/ngrinder/perftest/0_999/7') },
    ];
    expect(shellcheck([...scripts, ...scripts.map((s) => ({ ...s, label: `${s.label} (dash)`, dialect: 'dash' as const }))])).toEqual({});
  });

  describe('against a recording HTTP server on 127.0.0.1', () => {
    const seen: { method: string; url: string; auth: string; type: string; body: Buffer }[] = [];
    let server: http.Server;
    let base = '';
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
          const ok = req.headers.authorization === `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
          res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
          res.end(ok ? '{"id":7,"status":"READY"}' : '{"message":"unauthorized"}');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('sends each call with HTTP Basic from stdin and prints body then status', async () => {
      for (const c of CALLS) {
        const r = await execa('dash', ['-s'], { input: apiCallScript(PASSWORD, base, c) });
        expect(parseApiOutput(r.stdout)).toEqual({ code: 200, body: '{"id":7,"status":"READY"}' });
      }
      expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(CALLS.map((c) => `${c.method} ${c.path}`));
      expect(new Set(seen.map((s) => s.auth))).toEqual(new Set([`Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`]));
      expect(seen[1]!.type).toBe('application/json');
      expect(JSON.parse(seen[1]!.body.toString())).toEqual({ testName: "loadfleet it's", agentCount: 2 });
      const multipart = seen[4]!.body.toString();
      expect(seen[4]!.type).toMatch(/^multipart\/form-data; boundary=/);
      expect(multipart).toContain('name="description"\r\n\r\nloadfleet run r1\r\n');
      expect(multipart).toContain('name="uploadFile"; filename="loadfleet-r1.groovy"');
      expect(multipart).toContain('@RunWith(GrinderRunner)\nclass T { @Test void t() {} }\n');
      expect(seen[6]!.type).toBe('text/plain; charset=UTF-8');
      expect(seen[6]!.body.toString()).toBe('loadfleet');
    });

    it('reports a refused password as 401 and an absent server as 000', async () => {
      const bad = await execa('dash', ['-s'], { input: apiCallScript('Zbcdefghij0123456789XYZ', base, CALLS[0]!) });
      expect(parseApiOutput(bad.stdout).code).toBe(401);
      // A port nothing listens on: the server's own port after it is closed would race; port 9 (discard) is closed here.
      const none = await execa('dash', ['-s'], { input: apiCallScript(PASSWORD, 'http://127.0.0.1:9', CALLS[0]!, 5), reject: false });
      expect(none.exitCode).toBe(0);
      expect(parseApiOutput(none.stdout)).toEqual({ code: 0, body: '' });
    });
  });
});
