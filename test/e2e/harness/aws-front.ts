// The handler's AWS endpoint: an HTTP forwarder in front of moto. It records each call's
// X-Amz-Target (the JSON APIs: ECR, Secrets Manager) or method and path (S3) when asked, and
// holds ECR's BatchDeleteImage to ECR's rule where moto is not as strict.
//
// ECR's rule for an image id that names a tag and a digest: only that tag is removed, and only
// while it points at that digest; a tag pointing elsewhere is the failure
// ImageTagDoesNotMatchDigest (a missing one ImageNotFound). The handler sends every tag it
// removes that way (pinned to the digest it checked). moto instead removes the whole image,
// every tag on it, when the pair matches, which would take tags the handler never asked for.
// So a pinned id is checked here against moto's BatchGetImage and sent on by tag alone.
import * as http from 'http';
import { closeServer, listen } from './handles';

const ECR = 'AmazonEC2ContainerRegistry_V20150921.';

export interface AwsFront { endpoint: string; close(): Promise<void> }

interface ImageId { imageTag?: string; imageDigest?: string }
interface Answer { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

export async function startAwsFront(motoPort: () => number, calls?: string[]): Promise<AwsFront> {
  const agent = new http.Agent({ keepAlive: true });

  // One JSON call to moto with the request's headers (moto reads the region from them).
  const ask = (req: http.IncomingMessage, target: string, body: Buffer) => new Promise<Answer>((resolve, reject) => {
    const headers = { ...req.headers, 'x-amz-target': target, 'content-length': String(body.length) };
    delete headers['accept-encoding'];
    const up = http.request({ host: '127.0.0.1', port: motoPort(), method: 'POST', path: req.url, headers, agent }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    up.on('error', reject);
    up.end(body);
  });

  const send = (res: http.ServerResponse, a: Answer) => {
    const headers = { ...a.headers, 'content-length': String(a.body.length) };
    delete headers['transfer-encoding'];
    res.writeHead(a.status, headers);
    res.end(a.body);
  };

  const pinnedDelete = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const input = JSON.parse(raw.toString()) as { registryId?: string; repositoryName: string; imageIds: ImageId[] };
    const forward: ImageId[] = [];
    const failures: object[] = [];
    for (const id of input.imageIds) {
      if (id.imageTag === undefined || id.imageDigest === undefined) {
        forward.push(id);
        continue;
      }
      const got = await ask(req, ECR + 'BatchGetImage', Buffer.from(JSON.stringify({
        registryId: input.registryId, repositoryName: input.repositoryName, imageIds: [{ imageTag: id.imageTag }],
      })));
      if (got.status !== 200) {
        // No repository, say: moto answers the original request as it would.
        send(res, await ask(req, ECR + 'BatchDeleteImage', raw));
        return;
      }
      const images = (JSON.parse(got.body.toString()) as { images?: { imageId: ImageId }[] }).images ?? [];
      if (images.length === 0) {
        failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
      } else if (images[0].imageId.imageDigest !== id.imageDigest) {
        failures.push({ imageId: id, failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid request parameters: given tag does not map to the given digest' });
      } else {
        forward.push({ imageTag: id.imageTag });
      }
    }
    if (forward.length === 0) {
      send(res, { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(JSON.stringify({ imageIds: [], failures })) });
      return;
    }
    const out = await ask(req, ECR + 'BatchDeleteImage', Buffer.from(JSON.stringify({ ...input, imageIds: forward })));
    if (out.status !== 200) {
      send(res, out);
      return;
    }
    const body = JSON.parse(out.body.toString()) as { failures?: object[] };
    body.failures = [...(body.failures ?? []), ...failures];
    send(res, { ...out, body: Buffer.from(JSON.stringify(body)) });
  };

  const server = http.createServer((req, res) => {
    const target = req.headers['x-amz-target'];
    calls?.push(typeof target === 'string' ? target : `${req.method} ${req.url}`);
    if (target === ECR + 'BatchDeleteImage') {
      pinnedDelete(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: motoPort(), method: req.method, path: req.url, headers: req.headers, agent }, upRes => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  const port = await listen(server, 'AWS API front');
  return { endpoint: `http://127.0.0.1:${port}`, close: async () => { agent.destroy(); await closeServer(server); } };
}
