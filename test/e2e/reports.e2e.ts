// The e2e run keeps its logs: a World's log files (handler and RIE, every registry, moto, the
// proxies) are under test-reports/e2e/<suite>/ once it stops, and every suite leaves a snapshot
// of the machine's processes when it starts and ends (harness/reports.ts).
import * as fs from 'fs';
import * as path from 'path';
import { pushImage } from './harness/images';
import { walk } from './harness/leaks';
import { keptLogsDir, REPORTS_DIR } from './harness/reports';
import { World } from './harness/world';

const SUITE_DIR = path.join(REPORTS_DIR, 'reports');

test('a stopped World leaves its handler, RIE, registry and moto logs under test-reports/e2e/<suite>/', async () => {
  const w = await new World().start();
  const kept = keptLogsDir(w.dir);
  expect(path.dirname(kept)).toBe(SUITE_DIR);
  let stopped = false;
  try {
    const image = await pushImage(w.openClient(), 'kept/app', '1', { arch: 'amd64', layerSizes: [4 * 1024] });
    const d = await w.deployment('docker-image-asset', { src: `${w.open.host}/kept/app:1`, dest: `${w.ecrHost}/kept:1` });
    const out = await d.create();
    expect(out.response.Status).toBe('SUCCESS');
    expect(out.response.Data?.ImageDigest).toBe(image.digest);
    expect(fs.existsSync(kept)).toBe(false);
    await w.stop();
    stopped = true;
  } finally {
    if (!stopped) await w.stop();
  }
  const names = walk(kept).filter(f => fs.statSync(f).isFile()).map(f => path.relative(kept, f));
  for (const want of ['handler.log', 'moto.log', 'hub/registry.log', 'private/registry.log', 'open/registry.log', 'ecr/registry.log']) {
    expect(names).toContain(want);
  }
  // The handler's own lines (JSON, one per step) are in the kept handler log, not only the RIE's.
  const handler = fs.readFileSync(path.join(kept, 'handler.log'), 'utf8');
  expect(handler).toMatch(/"msg":"request"/);
  expect(handler).toContain('kept:1');
  // The World's own folder is gone: what is kept is a copy.
  expect(fs.existsSync(w.dir)).toBe(false);
});

test('the suite\'s start left a snapshot of the machine\'s processes', () => {
  const snap = fs.readFileSync(path.join(SUITE_DIR, 'machine-start.txt'), 'utf8');
  expect(snap).toMatch(/^\d{4}-\d\d-\d\dT.* loadavg \d/);
  expect(snap).toMatch(/PID\s+PPID\s+PGID/);
});
