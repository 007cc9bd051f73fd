// Soak (issue 16): 200 invocations in a row on one warm handler (one RIE, one bootstrap
// process, as a busy Lambda sandbox), each a real copy of a small image to a new tag. After
// each one, from /proc: the bootstrap's peak RSS (VmHWM) and its open file descriptors; from the
// handler's own debug line at the end of each invocation ("invocation done"): its goroutines.
// Asserted: one process served them all, every copy succeeded, and after the first ten
// (warm-up: TLS sessions, clients, caches) peak RSS stays within +10% (it cannot fall: it is a
// peak), and neither goroutines nor descriptors grow. The loop is bounded in count and in time.
import * as fs from 'fs';
import { synthExample } from './harness/driver';
import { expectCopied, KiB } from './harness/expect';
import { pushImage, PushedManifest } from './harness/images';
import { BOOTSTRAP, Rie } from './harness/rie';
import { World } from './harness/world';

const N = 200;
const WARM_UP = 10;
const TIME_BUDGET_MS = 240_000;

let w: World;
let rie: Rie;
let images: PushedManifest[];

beforeAll(async () => {
  w = await new World({ rie: false }).start();
  rie = await w.newRie({ timeoutSeconds: 60, name: 'soak', recordPid: true });
  // Two small images, alternated, so that every copy writes a manifest and a tag.
  const hub = w.hubClient();
  images = [
    await pushImage(hub, 'library/soak', 'a', { arch: 'amd64', layerSizes: [32 * KiB, 8 * KiB] }),
    await pushImage(hub, 'library/soak', 'b', { arch: 'amd64', layerSizes: [48 * KiB] }),
  ];
}, 180_000);

afterAll(async () => { await w?.stop(); });

function procFigures(pid: number): { hwmKiB: number; rssKiB: number; fds: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1]);
  return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS'), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

/** The goroutine count the handler logged at the end of its last invocation, from log text after `mark`. */
function goroutinesAfter(log: string): number {
  const lines = log.split('\n').filter(l => l.includes('"msg":"invocation done"'));
  expect(lines.length).toBeGreaterThan(0);
  return JSON.parse(lines[lines.length - 1]).goroutines;
}

test(`${N} invocations on one warm handler: peak RSS, goroutines and file descriptors stay flat`, async () => {
  const [base] = await synthExample('docker-image-asset', { src: `${w.hub.host}/library/soak:a`, dest: `${w.ecrHost}/soak:t0` });
  const rows: { i: number; hwmKiB: number; rssKiB: number; fds: number; goroutines: number; seconds: number }[] = [];
  const t0 = Date.now();
  let pid = 0;
  for (let i = 0; i < N; i++) {
    if (Date.now() - t0 > TIME_BUDGET_MS) throw new Error(`the soak ran out of its ${TIME_BUDGET_MS / 1000} s budget after ${i} invocations`);
    const img = images[i % 2];
    const mark = rie.log().length;
    const out = await w.resource(base, p => {
      p.SrcImage = `docker://${w.hub.host}/library/soak:${i % 2 ? 'b' : 'a'}`;
      p.DestImage = `docker://${w.ecrHost}/soak:t${i}`;
    }, rie).create();
    await expectCopied(out, w.ecrClient(), w.ecrHost, 'soak', `t${i}`, img.digest);
    if (i === 0) {
      [pid] = w.bootstrapPids(rie);
      expect(fs.realpathSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(BOOTSTRAP));
    }
    rows.push({ i: i + 1, ...procFigures(pid), goroutines: goroutinesAfter(rie.log().slice(mark)), seconds: out.seconds });
  }
  // One process served every invocation: no crash, no restart.
  expect(w.bootstrapPids(rie)).toEqual([pid]);

  const warm = rows[WARM_UP - 1];
  const last = rows[rows.length - 1];
  const spread = (xs: number[]) => ({
    first: xs[0], maxFirst10: Math.max(...xs.slice(0, WARM_UP)), maxAfter10: Math.max(...xs.slice(WARM_UP)), last: xs[xs.length - 1],
  });
  const figures = {
    invocations: rows.length,
    seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
    peakRssMiB: { after10: +(warm.hwmKiB / 1024).toFixed(1), last: +(last.hwmKiB / 1024).toFixed(1) },
    rssMiB: { after10: +(warm.rssKiB / 1024).toFixed(1), last: +(last.rssKiB / 1024).toFixed(1) },
    goroutines: spread(rows.map(r => r.goroutines)),
    fds: spread(rows.map(r => r.fds)),
  };
  process.stdout.write(`\nsoak figures: ${JSON.stringify(figures)}\n`);
  if (process.env.E2E_SOAK_REPORT) fs.writeFileSync(process.env.E2E_SOAK_REPORT, JSON.stringify({ figures, rows }, null, 1) + '\n');

  // Peak RSS: within +10% of its value after the first ten (a peak never falls below it).
  expect(last.hwmKiB).toBeGreaterThanOrEqual(warm.hwmKiB);
  expect(last.hwmKiB).toBeLessThanOrEqual(warm.hwmKiB * 1.10);
  // No growth: the last invocation ends with no more goroutines or descriptors than the
  // warm-up did, and none in between has more than 2 over that (a connection still closing as
  // the count is taken). A leak of one per invocation would be 190 over.
  expect(figures.goroutines.last).toBeLessThanOrEqual(figures.goroutines.maxFirst10);
  expect(figures.goroutines.maxAfter10).toBeLessThanOrEqual(figures.goroutines.maxFirst10 + 2);
  expect(figures.fds.last).toBeLessThanOrEqual(figures.fds.maxFirst10);
  expect(figures.fds.maxAfter10).toBeLessThanOrEqual(figures.fds.maxFirst10 + 2);
});
