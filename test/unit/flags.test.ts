import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import { targetUrl } from '../../scripts/core/flags';

describe('--host', () => {
  it('takes http and https URLs as they are', () => {
    expect(targetUrl('--host', 'http://10.0.0.5:8080')).toBe('http://10.0.0.5:8080');
    expect(targetUrl('--host', 'https://app.example/path?q=a@b')).toBe('https://app.example/path?q=a@b'); // @ after the authority is no credential
  });

  it('fails when the URL carries credentials, naming --host without showing them', () => {
    for (const url of ['http://user:s3cret@10.0.0.5:8080', 'https://s3cret@app.example/', 'HTTP://u:p@h']) {
      expect(() => targetUrl('--host', url)).toThrow(UsageError);
      expect(() => targetUrl('--host', url)).toThrow(/^--host \(https?:\/\/\*\*\*@[^)]*\) carries credentials/i);
      try {
        targetUrl('--host', url);
      } catch (e) {
        expect((e as Error).message).not.toMatch(/s3cret|u:p/);
      }
    }
  });

  it('fails on what is not an http(s) URL', () => {
    expect(() => targetUrl('--host', 'ftp://x')).toThrow(/--host \(ftp:\/\/x\) must be a URL like http:\/\/10\.0\.0\.5:8080/);
  });
});
