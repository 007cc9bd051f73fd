// Stands in for CloudFormation's pre-signed ResponseURL: records every PUT body.
import * as crypto from 'crypto';
import * as http from 'http';
import { closeServer, listen } from './handles';

export interface CfnResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho?: boolean;
  Data?: Record<string, string>;
}

export interface Receiver {
  readonly port: number;
  /** Responses received, keyed by RequestId (in arrival order per key). */
  readonly responses: Map<string, CfnResponse[]>;
  /** The signatures of every ResponseURL handed out: they are secrets and must never be logged. */
  readonly signatures: string[];
  /** A fresh pre-signed-looking URL for one request. */
  responseUrl(requestId: string): string;
  /** Resolves with the response to requestId, or rejects after timeoutMs. */
  waitFor(requestId: string, timeoutMs: number): Promise<CfnResponse>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const responses = new Map<string, CfnResponse[]>();
  const waiters = new Map<string, (r: CfnResponse) => void>();
  const signatures: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'PUT') {
        res.writeHead(405); res.end(); return;
      }
      let body: CfnResponse;
      try { body = JSON.parse(Buffer.concat(chunks).toString()); } catch {
        res.writeHead(400); res.end('not JSON'); return;
      }
      const id = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop()!;
      if (!responses.has(id)) responses.set(id, []);
      responses.get(id)!.push(body);
      // Like S3 pre-signed PUTs: an empty 200.
      res.writeHead(200, { 'Content-Length': '0' });
      res.end();
      waiters.get(id)?.(body);
    });
  });
  const port = await listen(server, 'ResponseURL receiver');
  return {
    port,
    responses,
    signatures,
    responseUrl(requestId: string) {
      const sig = crypto.randomBytes(32).toString('hex');
      signatures.push(sig);
      const q = new URLSearchParams({
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Credential': 'AKIAE2ERESPONSEURL00/20240101/us-east-1/s3/aws4_request',
        'X-Amz-Date': '20240101T000000Z',
        'X-Amz-Expires': '7200',
        'X-Amz-SignedHeaders': 'host',
        'X-Amz-Signature': sig,
      });
      return `http://127.0.0.1:${port}/cloudformation-custom-resource-response-useast1/${requestId}?${q}`;
    },
    waitFor(requestId: string, timeoutMs: number) {
      const got = responses.get(requestId);
      if (got && got.length) return Promise.resolve(got[0]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { waiters.delete(requestId); reject(new Error(`no response for ${requestId} within ${timeoutMs} ms`)); }, timeoutMs);
        waiters.set(requestId, r => { clearTimeout(t); waiters.delete(requestId); resolve(r); });
      });
    },
    close: () => closeServer(server),
  };
}
