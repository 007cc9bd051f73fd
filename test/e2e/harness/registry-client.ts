// A minimal registry HTTP API v2 client for the tests: it pushes test images (blob POST+PUT,
// manifest PUT) and reads digests back, answering Basic and Bearer challenges like a real client.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  inToto: 'application/vnd.in-toto+json',
};

/** Every manifest type, for HEAD/GET requests that must not trigger conversion. */
export const ACCEPT_ALL = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex].join(', ');

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function sha256(b: Buffer | string): string {
  return 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  ca?: Buffer;
}

export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, agent: false }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export class RegistryClient {
  private readonly ca: Buffer;
  private readonly tokens = new Map<string, string>();

  /** host is `127.0.0.1:PORT`; creds are used for Basic auth or to fetch bearer tokens. */
  constructor(public readonly host: string, caFile: string, private readonly creds?: { user: string; password: string }) {
    this.ca = fs.readFileSync(caFile);
  }

  async request(method: string, path: string, scope: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<HttpResponse> {
    const url = path.startsWith('https://') ? path : `https://${this.host}${path}`;
    const withAuth = () => {
      const h = { ...headers };
      const token = this.tokens.get(scope);
      if (token) h.Authorization = token;
      return h;
    };
    let res = await httpRequest(url, { method, headers: withAuth(), body, ca: this.ca });
    if (res.status === 401) {
      await this.answerChallenge(String(res.headers['www-authenticate'] ?? ''), scope);
      res = await httpRequest(url, { method, headers: withAuth(), body, ca: this.ca });
    }
    return res;
  }

  private async answerChallenge(challenge: string, scope: string): Promise<void> {
    const basic = this.creds ? 'Basic ' + Buffer.from(`${this.creds.user}:${this.creds.password}`).toString('base64') : undefined;
    if (/^basic/i.test(challenge)) {
      if (!basic) throw new Error(`${this.host}: Basic auth required and no creds given`);
      this.tokens.set(scope, basic);
      return;
    }
    const params: Record<string, string> = {};
    for (const m of challenge.replace(/^bearer\s+/i, '').matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    u.searchParams.set('scope', scope);
    const res = await httpRequest(u.toString(), { headers: basic ? { Authorization: basic } : {}, ca: this.ca });
    if (res.status !== 200) throw new Error(`token request to ${u} failed: ${res.status} ${res.body}`);
    const json = JSON.parse(res.body.toString());
    this.tokens.set(scope, `Bearer ${json.token ?? json.access_token}`);
  }

  private scope(repo: string, push = false): string {
    return `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
  }

  /** Uploads a blob monolithically (POST, then PUT with the digest); skips it when present. */
  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const scope = this.scope(repo, true);
    const head = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, scope);
    if (head.status === 200) return digest;
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, scope, { 'Content-Length': '0' });
    if (start.status !== 202) throw new Error(`blob upload start ${repo}: ${start.status} ${start.body}`);
    const loc = new URL(String(start.headers.location), `https://${this.host}`);
    loc.searchParams.set('digest', digest);
    const put = await this.request('PUT', loc.pathname + loc.search, scope,
      { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) }, data);
    if (put.status !== 201) throw new Error(`blob upload ${repo} ${digest}: ${put.status} ${put.body}`);
    return digest;
  }

  async putManifest(repo: string, ref: string, mediaType: string, body: Buffer | string): Promise<string> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, this.scope(repo, true), { 'Content-Type': mediaType }, body);
    if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${ref}: ${res.status} ${res.body}`);
    return String(res.headers['docker-content-digest']);
  }

  /** Digest and media type of a manifest, or undefined when the registry answers 404. */
  async headManifest(repo: string, ref: string, accept = ACCEPT_ALL): Promise<{ digest: string; mediaType: string } | undefined> {
    const res = await this.request('HEAD', `/v2/${repo}/manifests/${ref}`, this.scope(repo), { Accept: accept });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`manifest HEAD ${this.host}/${repo}:${ref}: ${res.status}`);
    return { digest: String(res.headers['docker-content-digest']), mediaType: String(res.headers['content-type']) };
  }

  async getManifest(repo: string, ref: string, accept = ACCEPT_ALL): Promise<{ digest: string; mediaType: string; json: any; raw: Buffer }> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${ref}`, this.scope(repo), { Accept: accept });
    if (res.status !== 200) throw new Error(`manifest GET ${this.host}/${repo}:${ref}: ${res.status} ${res.body}`);
    return { digest: sha256(res.body), mediaType: String(res.headers['content-type']), json: JSON.parse(res.body.toString()), raw: res.body };
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    let res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, this.scope(repo));
    if (res.status === 307 || res.status === 302) res = await httpRequest(String(res.headers.location), { ca: this.ca });
    if (res.status !== 200) throw new Error(`blob GET ${repo}@${digest}: ${res.status}`);
    return res.body;
  }

  async tags(repo: string): Promise<string[]> {
    const res = await this.request('GET', `/v2/${repo}/tags/list`, this.scope(repo));
    if (res.status === 404) return [];
    if (res.status !== 200) throw new Error(`tags list ${repo}: ${res.status} ${res.body}`);
    return (JSON.parse(res.body.toString()).tags ?? []).sort();
  }

  /** Every tag of a repository with the digest its manifest has (HEAD per tag); {} for a repository that does not exist. */
  async tagDigests(repo: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const t of await this.tags(repo)) {
      const h = await this.headManifest(repo, t);
      // A tag listed and then gone (deleted in between) is simply not there.
      if (h) out[t] = h.digest;
    }
    return out;
  }

  /** DELETE of a manifest by digest (the distribution API has no tag deletion); false when it was not there. */
  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    const res = await this.request('DELETE', `/v2/${repo}/manifests/${digest}`, `repository:${repo}:delete,pull,push`);
    if (res.status === 404) return false;
    if (res.status !== 202) throw new Error(`manifest DELETE ${this.host}/${repo}@${digest}: ${res.status} ${res.body}`);
    return true;
  }
}
