// The harness's own guarantees that the other suites lean on, against the real emulator:
// - ports the harness picks never collide (not with each other, not with the kernel's picks);
// - a server is only taken as started when the process listening on its port is that server;
// - a delivery whose invocation fails ends at once instead of waiting for an answer that no
//   handler will send. One emulator must never get two invocations at once: this RIE panics
//   and both die, which is why every concurrent deployment gets its own emulator.
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { CustomResource } from './harness/driver';
import { freePort, Proc, rmTree, tempDir, waitForPort } from './harness/proc';
import { startReceiver } from './harness/receiver';
import { Rie, RIE_BIN } from './harness/rie';

let dir: string;
beforeAll(() => { dir = tempDir('harness'); });
afterAll(() => { rmTree(dir); });

test('freePort hands out distinct ports below the kernel\'s ephemeral range', async () => {
  const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ports = await Promise.all(Array.from({ length: 300 }, () => freePort()));
  expect(new Set(ports).size).toBe(ports.length);
  expect(Math.max(...ports)).toBeLessThan(lo);
});

test('waitForPort refuses a port served by another process, naming it', async () => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>(r => squatter.listen(port, '127.0.0.1', r));
  const rie = new Proc('rie', RIE_BIN, ['--runtime-interface-emulator-address', `127.0.0.1:${port}`,
    '--runtime-api-address', `127.0.0.1:${await freePort()}`, '/bin/true'], path.join(dir, 'squatted.log'));
  try {
    await expect(waitForPort(port, 'aws-lambda-rie', rie)).rejects.toThrow(new RegExp(`address already in use: 127.0.0.1:${port} is served by pid ${process.pid}, not by rie`));
  } finally {
    await rie.stop();
    await new Promise(r => squatter.close(r));
  }
});

test('a second invocation while one is in flight kills the emulator (this RIE panics), and both deliveries fail at once', async () => {
  // A runtime that takes each invocation and answers it 5 s later, through the Runtime API.
  const bootstrap = path.join(dir, 'slow-bootstrap');
  fs.writeFileSync(bootstrap, [
    '#!/bin/sh',
    'api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"',
    'while true; do',
    '  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d "\\r" | sed -n "s/^Lambda-Runtime-Aws-Request-Id: //ip")',
    '  sleep 5',
    '  curl -sS -X POST -d \'"done"\' "$api/$id/response" > /dev/null',
    'done',
  ].join('\n') + '\n', { mode: 0o755 });
  const rie = new Rie({ bootstrap, timeoutSeconds: 30, env: {}, logFile: path.join(dir, 'busy.log') });
  const receiver = await startReceiver();
  await rie.start();
  try {
    // Alone, an invocation runs and returns the runtime's answer.
    expect(await rie.invoke({ n: 0 })).toEqual({ status: 200, body: '"done"' });
    const resource = { stackName: 'S', logicalId: 'R', properties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:f' } };
    const first = new CustomResource(rie, receiver, resource).create();
    first.catch(() => undefined);
    await new Promise(r => setTimeout(r, 1000));
    const t0 = Date.now();
    const second = new CustomResource(rie, receiver, resource).create();
    // Each delivery would wait 60 s (timeout + 30 s) for an answer; they end as the emulator dies.
    await expect(second).rejects.toThrow(/socket hang up|ECONNRESET/);
    await expect(first).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(rie.log()).toMatch(/panic: runtime error/);
  } finally {
    await rie.stop();
    await receiver.close();
  }
});
