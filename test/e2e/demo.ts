// The README's demo: a real copy through the shipped handler, end to end, on this machine.
// Starts the local stand-ins (registries, moto, proxy, receiver, Lambda RIE), pushes a demo
// image to the Docker-Hub-style registry, synthesizes examples/docker-image-asset.ts pointing
// at it and at the ECR-style destination, sends CloudFormation's Create to the real bootstrap,
// prints the result and stops everything.
import { pushImage } from './harness/images';
import { World } from './harness/world';

const MiB = 1024 * 1024;

async function main(): Promise<number> {
  const w = new World();
  const stopOnSignal = () => { void w.stop().then(() => process.exit(130)); };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    await w.start();
    const src = `${w.hub.host}/library/demo:1.0`;
    const dest = `${w.ecrHost}/demo:1.0`;
    const image = await pushImage(w.hubClient(), 'library/demo', '1.0', { arch: 'amd64', layerSizes: [24 * MiB, 6 * MiB, 4096] });
    const d = await w.deployment('docker-image-asset', { src, dest });
    const out = await d.create();
    const head = await w.ecrClient().headManifest('demo', '1.0');
    const ok = out.response.Status === 'SUCCESS' && head?.digest === image.digest && out.response.Data?.ImageDigest === image.digest;
    const leaks = w.leaks();
    const rows: [string, string][] = [
      ['status', out.response.Status + (out.response.Reason ? ` (${out.response.Reason})` : '')],
      ['source', `docker://${src}`],
      ['destination', `docker://${dest}  (ECR-style, via HTTPS_PROXY and ECR auto-login)`],
      ['digest', `${out.response.Data?.ImageDigest ?? '-'}${head?.digest === image.digest ? '  (matches source)' : '  (DOES NOT match source ' + image.digest + ')'}`],
      ['image uri', out.response.Data?.ImageUri ?? '-'],
      ['bytes', `${image.blobBytes} (${(image.blobBytes / MiB).toFixed(1)} MiB of blobs)`],
      ['seconds', `${out.seconds.toFixed(2)} (event sent to CloudFormation response received)`],
      ['secret grep', leaks.length ? `LEAKED ${leaks.join(', ')}` : 'clean (no password, token or ResponseURL signature in handler output)'],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(12)} ${v}`);
    return ok && leaks.length === 0 ? 0 : 1;
  } catch (e) {
    console.error('demo failed:', e);
    if (w.rie) console.error('--- handler log (tail) ---\n' + w.rie.log().split('\n').slice(-30).join('\n'));
    return 1;
  } finally {
    await w.stop();
  }
}

void main().then(code => process.exit(code));
