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
