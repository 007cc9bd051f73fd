// The gzip level the handler compresses uncompressed archive layers at is the one the
// measurement chose (bash bench/gzip.sh writes bench/results/gzip-levels.md). Re-running the
// measurement can change its choice; the handler must then follow, or the measurement's
// choice rule be argued with, but the two never silently disagree.
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

test('lambda/internal/copier/sysctx.go gzips at the level bench/results/gzip-levels.md chose', () => {
  const results = fs.readFileSync(path.join(ROOT, 'bench/results/gzip-levels.md'), 'utf8');
  const chosen = /\*\*Chosen: level (-?\d+)\*\*/.exec(results);
  expect(chosen).not.toBeNull();
  const sysctx = fs.readFileSync(path.join(ROOT, 'lambda/internal/copier/sysctx.go'), 'utf8');
  const constant = /^const gzipLevel = (-?\d+)$/m.exec(sysctx);
  expect(constant).not.toBeNull();
  expect(Number(constant![1])).toBe(Number(chosen![1]));
  // The constant is what the destination's SystemContext carries.
  expect(sysctx).toMatch(/level := gzipLevel[\s\S]*CompressionLevel: &level,/);
});

test("the README's level and time ratio are the measurement's", () => {
  const results = fs.readFileSync(path.join(ROOT, 'bench/results/gzip-levels.md'), 'utf8');
  const m = /\*\*Chosen: level (-?\d+)\*\*[^\n]*level \1 takes \*\*([\d.]+)×\*\* the time of level 6/.exec(results);
  expect(m).not.toBeNull();
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const claim = /A layer that compresses is gzipped at level (\d+),[\s\S]{0,300}?in ([\d.]+)× the time of the usual default, level 6/.exec(readme);
  expect(claim).not.toBeNull();
  expect(claim![1]).toBe(m![1]);
  expect(Number(claim![2])).toBe(Number(m![2]));
});

test("the README's rule for storing classic-archive layers uncompressed is the handler's", () => {
  const built = fs.readFileSync(path.join(ROOT, 'lambda/internal/copier/engine_built.go'), 'utf8');
  const sample = /^\s*sampleSize = (\d+) << 20$/m.exec(built);
  const share = /^\s*storeAbove = (0\.\d+)$/m.exec(built);
  expect(sample).not.toBeNull();
  expect(share).not.toBeNull();
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const claim = /A layer that gzip would not shrink is copied as the plain tar it is\.[\s\S]{0,120}?first (\d+) MiB gzip to more than (\d+) % of their size/.exec(readme);
  expect(claim).not.toBeNull();
  expect(Number(claim![1])).toBe(Number(sample![1]));
  expect(Number(claim![2]) / 100).toBe(Number(share![1]));
});
