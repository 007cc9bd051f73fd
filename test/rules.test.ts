// The rulebook's cases (lambda/internal/rules/cases.json), run against the construct's side of
// the rulebook; `go test ./internal/rules` runs the same table against the handler's.
import * as fs from 'fs';
import * as path from 'path';
import { isKnownArchitecture, isValidTag, parseEcrHost, parsePlatform, retryProblem, s3KeyCandidates } from '../src/rules';

const cases = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'lambda', 'internal', 'rules', 'cases.json'), 'utf8'));

test('every table has cases', () => {
  for (const table of ['ecrHost', 'platform', 'tag', 'retry', 's3KeyCandidates']) {
    expect(cases[table].length).toBeGreaterThan(3);
  }
});

describe('ECR registry hosts', () => {
  test.each<[string, any]>(cases.ecrHost.map((c: any) => [c.host, c.want]))('%s', (host: string, want: any) => {
    const got = parseEcrHost(host);
    expect(got === undefined ? null : { partition: undefined, ...got }).toEqual(want);
  });
});

describe('platforms', () => {
  test.each<[string, any, boolean]>(cases.platform.map((c: any) => [c.in, c.want, c.known]))('%j', (s: string, want: any, known: boolean) => {
    const got = parsePlatform(s);
    expect(got ?? null).toEqual(want);
    if (got) {
      expect(isKnownArchitecture(got.architecture)).toBe(known);
    }
  });
});

describe('tags', () => {
  test.each<[string, boolean]>(cases.tag.map((c: any) => [c.in, c.valid]))('%j', (tag: string, valid: boolean) => {
    expect(isValidTag(tag)).toBe(valid);
  });
});

describe('retry fields', () => {
  test.each<[any, boolean, string]>(cases.retry.map((c: any) => [c.in, c.valid, c.field ?? '']))('%j', (values: any, valid: boolean, field: string) => {
    const got = retryProblem(values);
    expect(got === undefined).toBe(valid);
    expect(got?.field ?? '').toBe(field);
  });
});

describe('S3 key/ref candidates', () => {
  test.each<[string, any]>(cases.s3KeyCandidates.map((c: any) => [c.in, c.want]))('%j', (keyAndRef: string, want: any) => {
    expect(s3KeyCandidates(keyAndRef)).toEqual(want);
  });
});

describe('hosts with tokens', () => {
  const T = '\uE000\\d+\uE001';
  test('a token account, region and suffix still say ECR; the partition is then unknown', () => {
    const got = parseEcrHost('\uE0000\uE001.dkr.ecr.\uE0001\uE001.\uE0002\uE001', { token: T });
    expect(got).toEqual({ kind: 'private', account: '\uE0000\uE001', region: '\uE0001\uE001', partition: undefined, dnsSuffix: '\uE0002\uE001', fips: false, dualStack: false });
  });
  test('a literal region with a token suffix keeps its partition', () => {
    expect(parseEcrHost('\uE0000\uE001.dkr.ecr.cn-north-1.\uE0002\uE001', { token: T })?.partition).toBe('aws-cn');
  });
  test('a token is not accepted where no token pattern is given', () => {
    expect(parseEcrHost('\uE0000\uE001.dkr.ecr.us-east-1.amazonaws.com')).toBeUndefined();
  });
});
