// A model of how CloudFormation drives ONE custom resource through its life, and of what the
// handler must do to the registry at every step. CloudFormation sends sequences, not single
// events: a failed Create is followed by the rollback Delete of the id the FAILED response
// carried; an Update that changes the id by the clean-up Delete of the OLD id with the OLD
// properties; a failed Update by an Update back to the old properties. Each row of ROWS is one
// such sequence (S1–S7), run with RemovalPolicy retain and destroy, against the ECR-style
// registry and a generic one, with the destination tags new or already there (pointing at
// another image). After every step the whole tag→digest map of every repository involved is
// compared with what the spec (`Oracle`) says it must be, together with the response's Status,
// PhysicalResourceId, Reason and Data.
//
// ECR rows: the handler writes through the registry API (docker-registry behind the ECR host
// name) but deletes through the ECR API (moto). `EcrMirror` makes moto the ECR API view of the
// same state: a TLS proxy in front of the ECR-style registry copies every manifest PUT by tag,
// byte for byte, into moto (PutImage with the manifest bytes, media type, tag and digest) before
// the client sees the 201, so BatchGetImage/DescribeImages/BatchDeleteImage see exactly what was
// pushed, at any moment of a step. After each step, the tags the handler removed through
// BatchDeleteImage are removed from the registry too (the registry has no untag: the manifest is
// deleted by digest and re-PUT under the tags that remain), so both views are equal again and
// the next step (e.g. a copy to a tag ECR no longer has) sees the state a real ECR would have.
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { Outcome, SynthResource, synthExample } from './driver';
import { FaultProxy, RuleHandle, startFaultProxy } from './fault-proxy';
import { closeServer, listen } from './handles';
import { imageConfig, randomLayer } from './images';
import { ECR_HOST } from './pki';
import { MT, RegistryClient, sha256 } from './registry-client';
import { World } from './world';

export type Kind = 'ecr' | 'open';
export type Policy = 'retain' | 'destroy';
/**
 * Source images: A and B (single amd64 images), IDX (a Docker manifest list with one amd64
 * child), IDX2 (a manifest list with the same amd64 child and an arm64 one), missing (a tag
 * that does not exist).
 */
export type Src = 'A' | 'B' | 'IDX' | 'IDX2' | 'missing';
type Img = Exclude<Src, 'missing'>;
export type RepoKey = 'r1' | 'r2';

/** One set of ResourceProperties, in the model's terms. */
export interface PropSet {
  repo: RepoKey;
  tag: string;
  src: Src;
  destTags?: string[];
  /** RetryConfigs (the construct writes it as JSON). */
  retry?: { numAttempts: number; baseDelay: number; maxDelay: number };
  /** DestImage written differently but naming the same image. */
  spelling?: 'host-case' | 'white-space';
  copyImageIndex?: boolean;
  archImageTags?: Record<string, string>;
}

export interface Scenario {
  /** S1 … S7, as in the brief. */
  seq: 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S7';
  /** Readable name: `${seq} ${title}` starts each test name. */
  title: string;
  /** [Create properties] or [Create properties, Update properties]. */
  props: PropSet[];
  /** Tags the destination registry refuses (the fault proxy answers a manifest PUT to them with 400 TAG_INVALID). */
  refuse?: string[];
  /** Tags another owner pushed into r1 before the sequence, pointing at the source image A itself. */
  sharedA?: string[];
  /** The source image A is in r1 before the sequence, untagged (pushed by digest). */
  untaggedA?: boolean;
  /** Registry kinds the row makes sense for (default both). */
  kinds?: Kind[];
}

const LATEST = ['latest'];

/** The sequences. Every one runs × {retain, destroy} × {ecr, open} × {pre-existing, new}. */
export const SCENARIOS: Scenario[] = [
  { seq: 'S1', title: 'create, stack delete', props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }] },
  {
    seq: 'S1',
    title: 'create, stack delete; another tag shares the digest',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }],
    sharedA: ['keep'],
  },
  { seq: 'S2', title: 'failed create (missing source), rollback delete', props: [{ repo: 'r1', tag: 'v1', src: 'missing' }] },
  {
    seq: 'S2',
    title: 'failed create after a partial write (DestTag refused), rollback delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: ['latest', 'refused'] }],
    refuse: ['refused'],
  },
  {
    seq: 'S2',
    title: 'failed create after a partial write (DestTag refused), the source image already in r1 untagged, rollback delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: ['latest', 'refused'] }],
    refuse: ['refused'],
    untaggedA: true,
  },
  {
    seq: 'S3',
    title: 'update same id (only RetryConfigs), stack delete',
    props: [
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST },
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST, retry: { numAttempts: 5, baseDelay: 1, maxDelay: 2 } },
    ],
  },
  {
    seq: 'S3',
    title: 'update same id (DestImage host in upper case), stack delete',
    kinds: ['ecr'],
    props: [
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST },
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST, spelling: 'host-case' },
    ],
  },
  {
    seq: 'S3',
    title: 'update same id (DestImage with surrounding white space), stack delete',
    props: [
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST },
      { repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST, spelling: 'white-space' },
    ],
  },
  {
    seq: 'S4',
    title: 'update new id (tag v1 -> v2, new source, latest shared), cleanup delete, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }, { repo: 'r1', tag: 'v2', src: 'B', destTags: LATEST }],
  },
  {
    seq: 'S4',
    title: 'update new id (repository r1 -> r2, new source), cleanup delete, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }, { repo: 'r2', tag: 'v1', src: 'B', destTags: LATEST }],
  },
  {
    seq: 'S4',
    title: 'update, tag renamed v1 -> v2 in the same repository, same digest, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A' }, { repo: 'r1', tag: 'v2', src: 'A' }],
  },
  {
    seq: 'S4',
    title: 'update, repository r1 -> r2, same digest, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }, { repo: 'r2', tag: 'v1', src: 'A', destTags: LATEST }],
  },
  {
    seq: 'S5',
    title: 'failed update (missing source), rollback update, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }, { repo: 'r1', tag: 'v2', src: 'missing', destTags: LATEST }],
  },
  {
    seq: 'S5',
    title: 'failed update after a partial write (DestTag refused), rollback update, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A', destTags: LATEST }, { repo: 'r1', tag: 'v2', src: 'B', destTags: ['latest', 'refused'] }],
    refuse: ['refused'],
  },
  {
    seq: 'S5',
    title: 'failed update (missing source) naming a DestTag another client pushed at the copied image, rollback update, stack delete',
    props: [{ repo: 'r1', tag: 'v1', src: 'A' }, { repo: 'r1', tag: 'v1', src: 'missing', destTags: LATEST }],
    sharedA: LATEST,
  },
  {
    seq: 'S7',
    title: 'delete after a failed create with DestTags (missing source)',
    props: [{ repo: 'r1', tag: 'v1', src: 'missing', destTags: ['latest', 'stable'] }],
  },
  {
    seq: 'S7',
    title: 'delete after a failed create with DestTags (ArchImageTags names an arch the index lacks)',
    props: [{ repo: 'r1', tag: 'v1', src: 'IDX', copyImageIndex: true, archImageTags: { arm64: 'v1-arm64' }, destTags: LATEST }],
  },
  {
    seq: 'S4',
    title: 'update new id (index IDX -> IDX2, which keeps the amd64 child and its arch tag), cleanup delete, stack delete',
    props: [
      { repo: 'r1', tag: 'v1', src: 'IDX', copyImageIndex: true, archImageTags: { amd64: 'app-amd64' }, destTags: LATEST },
      { repo: 'r1', tag: 'v2', src: 'IDX2', copyImageIndex: true, archImageTags: { amd64: 'app-amd64' }, destTags: LATEST },
    ],
  },
];

export interface Row {
  scenario: Scenario;
  policy: Policy;
  kind: Kind;
  pre: boolean;
  name: string;
}

export function rows(kind: Kind): Row[] {
  const out: Row[] = [];
  for (const scenario of SCENARIOS) {
    if (scenario.kinds && !scenario.kinds.includes(kind)) continue;
    for (const policy of ['retain', 'destroy'] as Policy[]) {
      for (const pre of [true, false]) {
        out.push({ scenario, policy, kind, pre, name: `${scenario.seq} ${scenario.title} | ${policy} | ${kind} | ${pre ? 'pre-existing' : 'new'}` });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Images built in memory, so the same bytes can be pushed anywhere (same manifest, same digest).

export interface Built {
  blobs: Buffer[];
  manifest: Buffer;
  mediaType: string;
  digest: string;
  /** For an index: the children, pushed by digest before it. */
  children?: Built[];
  /** For an index: arch -> child digest. */
  arch?: Record<string, string>;
}

function buildImage(arch: string, layerSizes: number[]): Built {
  const layers = layerSizes.map(s => randomLayer(s));
  const config = imageConfig(arch, layers);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config: { mediaType: MT.dockerConfig, size: config.length, digest: sha256(config) },
    layers: layers.map(l => ({ mediaType: MT.dockerLayerGzip, size: l.gz.length, digest: l.digest })),
  }));
  return { blobs: [...layers.map(l => l.gz), config], manifest, mediaType: MT.dockerManifest, digest: sha256(manifest) };
}

function buildIndex(children: { arch: string; image: Built }[]): Built {
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.dockerList,
    manifests: children.map(c => ({ mediaType: c.image.mediaType, size: c.image.manifest.length, digest: c.image.digest, platform: { architecture: c.arch, os: 'linux' } })),
  }));
  return {
    blobs: [],
    manifest,
    mediaType: MT.dockerList,
    digest: sha256(manifest),
    children: children.map(c => c.image),
    arch: Object.fromEntries(children.map(c => [c.arch, c.image.digest])),
  };
}

async function pushBuilt(client: RegistryClient, repo: string, tag: string | undefined, img: Built): Promise<void> {
  for (const c of img.children ?? []) await pushBuilt(client, repo, undefined, c);
  for (const b of img.blobs) await client.pushBlob(repo, b);
  const d = await client.putManifest(repo, tag ?? img.digest, img.mediaType, img.manifest);
  if (d !== img.digest) throw new Error(`push ${repo}:${tag}: registry says ${d}, the bytes hash to ${img.digest}`);
}

// ---------------------------------------------------------------------------------------------
// The ECR API view: moto, kept equal to the registry behind the ECR host name.

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding'];

function stripHopByHop(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.includes(k)) out[k] = v;
  return out;
}

const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/?]+)$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * A TLS reverse proxy in front of the ECR-style registry that mirrors every manifest PUT by tag
 * into moto before answering, and `reconcile()`, which applies the handler's BatchDeleteImage
 * untags to the registry. `anomalies` collects everything that breaks the model: a moto digest
 * that is not the sha256 of the manifest bytes, stored bytes that differ, a manifest DELETE
 * through the registry API (real ECR deletes through BatchDeleteImage), views that disagree.
 */
export class EcrMirror {
  public port = 0;
  public readonly anomalies: string[] = [];
  /** Manifest PUTs by tag mirrored into moto, and moto digests checked against the registry's. */
  public mirrored = 0;
  private server?: https.Server;
  private agent?: https.Agent;

  constructor(private readonly w: World) {}

  get host(): string { return `127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const { pki } = this.w;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: fs.readFileSync(pki.caCert) });
    this.server = https.createServer({ cert: fs.readFileSync(pki.serverCert), key: fs.readFileSync(pki.serverKey) }, (req, res) => {
      this.handle(req, res).catch(err => {
        this.anomalies.push(`mirror proxy: ${err.message}`);
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 30_000;
    this.port = await listen(this.server, 'ECR mirror');
  }

  async close(): Promise<void> {
    this.agent?.destroy();
    if (this.server) await closeServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    const m = MANIFEST_PATH.exec(p);
    const upstream = (body?: Buffer) => new Promise<http.IncomingMessage>((resolve, reject) => {
      const up = https.request({ host: '127.0.0.1', port: this.w.ecr.port, method: req.method, path: req.url, headers: stripHopByHop(req.headers), agent: this.agent }, resolve);
      up.on('error', reject);
      if (body) up.end(body); else req.pipe(up);
    });
    if (m && req.method === 'PUT') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const upRes = await upstream(body);
      const resChunks: Buffer[] = [];
      for await (const c of upRes) resChunks.push(c as Buffer);
      const [, repo, ref] = m;
      if (upRes.statusCode === 201 && !DIGEST.test(ref)) {
        // Mirrored before the client hears of the PUT: what the handler wrote is in the ECR API
        // view by the time it calls BatchGetImage or BatchDeleteImage.
        await this.mirrorPut(repo, ref, body, String(req.headers['content-type'] ?? ''), String(upRes.headers['docker-content-digest'] ?? ''));
      }
      res.writeHead(upRes.statusCode ?? 502, stripHopByHop(upRes.headers));
      res.end(Buffer.concat(resChunks));
      return;
    }
    const upRes = await upstream();
    if (m && req.method === 'DELETE' && upRes.statusCode === 202) {
      this.anomalies.push(`manifest DELETE ${m[1]}@${m[2]} through the registry API of the ECR host (ECR removes images through BatchDeleteImage)`);
    }
    res.writeHead(upRes.statusCode ?? 502, stripHopByHop(upRes.headers));
    upRes.pipe(res);
  }

  private async mirrorPut(repo: string, tag: string, body: Buffer, mediaType: string, registryDigest: string): Promise<void> {
    const digest = sha256(body);
    if (registryDigest !== digest) this.anomalies.push(`registry answered ${repo}:${tag} with digest ${registryDigest}, the bytes hash to ${digest}`);
    const got = await this.w.moto.putImage(repo, body, mediaType, tag, digest);
    if (got.digest !== digest || got.storedSha256 !== digest) {
      this.anomalies.push(`moto: ${repo}:${tag} recorded as ${got.digest}, stored manifest hashes to ${got.storedSha256}; the registry's digest is ${digest}`);
    }
    this.mirrored++;
  }

  /** Pushes test images through the mirror, so moto sees them too. */
  client(): RegistryClient { return new RegistryClient(this.host, this.w.pki.caCert, this.w.ecrLogin); }

  /**
   * After a step: tags the handler removed through the ECR API (in moto, not in the registry)
   * are removed from the registry too, by deleting the manifest by digest and re-PUTting it
   * under the tags that remain. Returns what it did, for the trace.
   */
  async reconcile(repos: string[]): Promise<string[]> {
    const direct = this.w.ecrClient();
    const done: string[] = [];
    for (const repo of repos) {
      const ecr = await this.w.moto.listTags(repo);
      const reg = await direct.tagDigests(repo);
      const gone = Object.keys(reg).filter(t => !(t in ecr));
      for (const t of Object.keys(ecr)) {
        if (!(t in reg)) this.anomalies.push(`${repo}:${t} is in the ECR API view (moto) at ${ecr[t]} but not in the registry`);
        else if (reg[t] !== ecr[t]) this.anomalies.push(`${repo}:${t} is ${reg[t]} in the registry but ${ecr[t]} in moto`);
      }
      const byDigest = new Map<string, string[]>();
      for (const t of gone) byDigest.set(reg[t], [...(byDigest.get(reg[t]) ?? []), t]);
      for (const [digest, untagged] of byDigest) {
        const keep = Object.keys(reg).filter(t => reg[t] === digest && !untagged.includes(t));
        const m = await direct.getManifest(repo, digest);
        await direct.deleteManifest(repo, digest);
        for (const t of keep) await direct.putManifest(repo, t, m.mediaType, m.raw);
        done.push(`untagged in the registry as in ECR: ${repo}:${untagged.join(',')}${keep.length ? ` (re-tagged ${keep.join(',')})` : ''}`);
      }
    }
    return done;
  }
}

// ---------------------------------------------------------------------------------------------
// One World per registry kind, with the proxies the model needs.

/** tag -> digest, per repository (by its real name). */
export type State = Record<string, Record<string, string>>;

export class LifecycleWorld {
  public w!: World;
  /** ECR: in front of the mirror. Generic: in front of the open registry, addressed as `fault.host` by rows that need a refused tag. */
  public fault!: FaultProxy;
  public mirror?: EcrMirror;
  public base!: SynthResource;
  public images!: Record<Img, Built>;
  private n = 0;

  constructor(public readonly kind: Kind) {}

  async start(): Promise<this> {
    this.w = await new World().start();
    const { pki } = this.w;
    const proxyOpts = { caFile: pki.caCert, certFile: pki.serverCert, keyFile: pki.serverKey };
    if (this.kind === 'ecr') {
      this.mirror = new EcrMirror(this.w);
      await this.mirror.start();
      this.fault = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.mirror!.port, logFile: `${this.w.dir}/fault-proxy-ecr.log` });
      // The handler's HTTPS_PROXY sends the ECR host name (any case: host names are
      // case-insensitive, so a DestImage with it in upper case must reach it too) to `fault`.
      this.w.proxy.route(ECR_HOST, this.fault.port);
    } else {
      this.fault = await startFaultProxy({ ...proxyOpts, upstreamPort: () => this.w.open.port, logFile: `${this.w.dir}/fault-proxy-open.log` });
    }
    const hub = this.w.hubClient();
    const a = buildImage('amd64', [2048, 256]);
    const b = buildImage('amd64', [2048, 256]);
    const child = buildImage('amd64', [1024]);
    const idx = buildIndex([{ arch: 'amd64', image: child }]);
    const idx2 = buildIndex([{ arch: 'amd64', image: child }, { arch: 'arm64', image: buildImage('arm64', [1024]) }]);
    await pushBuilt(hub, 'lc/src-a', 'a', a);
    await pushBuilt(hub, 'lc/src-b', 'b', b);
    await pushBuilt(hub, 'lc/src-idx', 'idx', idx);
    await pushBuilt(hub, 'lc/src-idx', 'idx2', idx2);
    this.images = { A: a, B: b, IDX: idx, IDX2: idx2 };
    [this.base] = await synthExample('docker-image-asset', { src: `${this.w.hub.host}/lc/src-a:a`, dest: `${ECR_HOST}/lc-base:v1` });
    return this;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.fault?.close(), this.mirror?.close()]);
    await this.w?.stop();
  }

  /** Fresh repository names for one row. */
  repos(): Record<RepoKey, string> {
    const i = String(++this.n).padStart(3, '0');
    return { r1: `lm-${this.kind}-${i}-r1`, r2: `lm-${this.kind}-${i}-r2` };
  }

  /** Where the test pushes and reads: through the mirror (ECR) or the registry itself (generic). */
  pushClient(): RegistryClient { return this.kind === 'ecr' ? this.mirror!.client() : this.w.openClient(); }

  srcRef(src: Src): string {
    const h = this.w.hub.host;
    switch (src) {
      case 'A': return `${h}/lc/src-a:a`;
      case 'B': return `${h}/lc/src-b:b`;
      case 'IDX': return `${h}/lc/src-idx:idx`;
      case 'IDX2': return `${h}/lc/src-idx:idx2`;
      case 'missing': return `${h}/lc/src-a:missing`;
    }
  }

  /** The registry host of a row's destination: the ECR host name, the open registry, or (rows with refused tags) the fault proxy in front of it. */
  destHost(row: Row): string {
    if (this.kind === 'ecr') return ECR_HOST;
    return row.scenario.refuse ? this.fault.host : this.w.open.host;
  }

  /** Tag → digest of each repository: moto's (the ECR API view) for ECR rows, the registry's otherwise. Plus the registry's view for ECR rows. */
  async observe(repos: string[]): Promise<{ view: State; registry: State }> {
    const reg = this.kind === 'ecr' ? this.w.ecrClient() : this.w.openClient();
    const view: State = {};
    const registry: State = {};
    for (const r of repos) {
      registry[r] = await reg.tagDigests(r);
      view[r] = this.kind === 'ecr' ? await this.w.moto.listTags(r) : registry[r];
    }
    return { view, registry };
  }
}

// ---------------------------------------------------------------------------------------------
// The spec, as a function of the state before a step and the event sent.

export interface Expected {
  status: 'SUCCESS' | 'FAILED';
  /** The exact id, or, for a failed Create, undefined (any id that carries no digest). */
  id?: string;
  /** The digest Data.ImageDigest must carry (SUCCESS Create/Update). */
  digest?: string;
  state: State;
  /** What the spec says happened, for the trace. */
  note: string;
}

/** A PropSet resolved for one row. */
export interface Resolved {
  ps: PropSet;
  policy: Policy;
  repo: string;
  /** Normalized host (lower case). */
  host: string;
  props: Record<string, any>;
}

// <name:tag>@<digest>#<fingerprint of the properties that wrote the id> (lambda/internal/deploy/id.go).
export const ID_FINGERPRINT = /#[0-9a-f]{12}$/;
const ID_DIGEST = new RegExp(`@(sha256:[0-9a-f]{64})(?:${ID_FINGERPRINT.source.slice(0, -1)})?$`);

export function digestOfId(id: string | undefined): string | undefined {
  return id ? ID_DIGEST.exec(id)?.[1] : undefined;
}

function clone(s: State): State {
  return JSON.parse(JSON.stringify(s));
}

export class Oracle {
  /** held: digests the repository holds untagged before the sequence. */
  constructor(
    private readonly kind: Kind,
    private readonly images: Record<Img, Built>,
    private readonly refuse: string[],
    private readonly held: string[] = [],
  ) {}

  /**
   * The tags a property set names, each with the digest it points at when `top` was copied:
   * the destination tag and DestTags at `top`, an arch tag at that index's child for the arch.
   */
  private writes(r: Resolved, top: string): { tag: string; digest: string }[] {
    const out = [{ tag: r.ps.tag, digest: top }];
    const index = Object.values(this.images).find(i => i.digest === top);
    for (const arch of Object.keys(r.ps.archImageTags ?? {}).sort()) {
      out.push({ tag: r.ps.archImageTags![arch], digest: index?.arch?.[arch] ?? 'none' });
    }
    for (const t of r.ps.destTags ?? []) out.push({ tag: t, digest: top });
    return out;
  }

  /** Why a copy of r must fail, or undefined. */
  private failure(r: Resolved): string | undefined {
    if (r.ps.src === 'missing') return 'the source tag does not exist (fails before any write)';
    const refused = this.writes(r, '').map(w => w.tag).filter(t => this.refuse.includes(t));
    if (refused.length) return `the registry refuses ${refused.join(',')} (after a partial write: the handler must undo it)`;
    const idx = this.images[r.ps.src].arch ? this.images[r.ps.src] : undefined;
    const missingArch = Object.keys(r.ps.archImageTags ?? {}).filter(a => !idx?.arch?.[a]);
    if (missingArch.length) return `ArchImageTags names ${missingArch.join(',')}, which the index lacks`;
    return undefined;
  }

  private srcDigest(r: Resolved): string {
    return this.images[r.ps.src as Img].digest;
  }

  private names(r: Resolved): string[] {
    return this.writes(r, '').map(w => `${r.host}/${r.repo}:${w.tag}`);
  }

  /** Whether a and b own the same (what the id's fingerprint covers). */
  private sameOwner(a: Resolved, b: Resolved): boolean {
    return a.policy === b.policy && JSON.stringify(this.names(a).sort()) === JSON.stringify(this.names(b).sort());
  }

  /** The id without its fingerprint, which the handler computes (and check() compares without). */
  id(r: Resolved, digest: string): string {
    return `${r.host}/${r.repo}:${r.ps.tag}@${digest}`;
  }

  /**
   * Removes `tags` of repo that still point at their owned digest. ECR: each by tag (an untag).
   * Generic: by digest, and only if no other tag of the repository points at that digest.
   * Either way an arch tag stays while an index under a tag not removed here lists its child
   * (a replacement that kept the child, and with it the arch tag).
   */
  private remove(state: State, repo: string, owned: { tag: string; digest: string }[]): string[] {
    const cur = state[repo] ?? {};
    const notes: string[] = [];
    let mine = owned.filter(o => cur[o.tag] === o.digest);
    const gone = new Set(mine.map(o => o.tag));
    const listedBy = (d: string) => Object.keys(cur).find(t => !gone.has(t)
      && Object.values(this.images).some(i => i.digest === cur[t] && Object.values(i.arch ?? {}).includes(d)));
    mine = mine.filter(o => {
      const by = listedBy(o.digest);
      if (by) notes.push(`keep ${o.tag} (the index at ${by} lists its child)`);
      return !by;
    });
    if (this.kind === 'ecr') {
      for (const o of mine) { delete cur[o.tag]; notes.push(`untag ${o.tag}`); }
      return notes;
    }
    const digests = [...new Set(mine.map(o => o.digest))];
    for (const d of digests) {
      const set = mine.filter(o => o.digest === d).map(o => o.tag);
      const others = Object.keys(cur).filter(t => cur[t] === d && !set.includes(t));
      if (others.length) { notes.push(`keep ${set.join(',')} (${others.join(',')} shares the digest)`); continue; }
      for (const t of set) delete cur[t];
      notes.push(`delete manifest of ${set.join(',')}`);
    }
    return notes;
  }

  create(state: State, r: Resolved): Expected {
    const why = this.failure(r);
    if (why) return this.failedCreate(state, r, why);
    const d = this.srcDigest(r);
    const s = clone(state);
    s[r.repo] = s[r.repo] ?? {};
    for (const w of this.writes(r, d)) s[r.repo][w.tag] = w.digest;
    return { status: 'SUCCESS', id: this.id(r, d), digest: d, state: s, note: 'copies' };
  }

  /**
   * A failed Create puts its tags back, except that it never deletes an image the repository
   * held before: a new tag written before the refusal on such an image stays, on a generic
   * registry always (a tag goes only with its manifest), on ECR when no other tag keeps the
   * image (an untag of its last tag deletes it).
   */
  private failedCreate(state: State, r: Resolved, why: string): Expected {
    const s = clone(state);
    const refusedAt = this.writes(r, '').findIndex(w => this.refuse.includes(w.tag));
    if (refusedAt <= 0 || r.ps.src === 'missing') return { status: 'FAILED', state: s, note: `FAILED: ${why}; nothing changes` };
    const d = this.srcDigest(r);
    const cur = s[r.repo] ?? {};
    const tagged = Object.values(cur).includes(d);
    const wasThere = tagged || this.held.includes(d);
    const left = wasThere && (this.kind === 'open' || !tagged)
      ? this.writes(r, d).slice(0, refusedAt).filter(w => w.digest === d && !(w.tag in cur)).map(w => w.tag) : [];
    if (!left.length) return { status: 'FAILED', state: s, note: `FAILED: ${why}; nothing changes` };
    s[r.repo] = cur;
    for (const t of left) cur[t] = d;
    return { status: 'FAILED', state: s, note: `FAILED: ${why}; ${left.join(',')} stay (removing them would delete an image that was there before)` };
  }

  /**
   * An Update from oldR to newR, sent with idIn, which `writer` wrote (the properties of the
   * Create or Update that answered that id).
   */
  update(state: State, idIn: string | undefined, oldR: Resolved, newR: Resolved, writer: Resolved): Expected {
    const why = this.failure(newR);
    if (why) return { status: 'FAILED', id: idIn, state: clone(state), note: `FAILED: ${why}; keeps the id; nothing changes` };
    const d = this.srcDigest(newR);
    const s = clone(state);
    s[newR.repo] = s[newR.repo] ?? {};
    for (const w of this.writes(newR, d)) s[newR.repo][w.tag] = w.digest;
    const owned = digestOfId(idIn);
    if (owned !== d) return { status: 'SUCCESS', id: this.id(newR, d), digest: d, state: s, note: 'copies; new digest, so a new id (CloudFormation deletes the old one)' };
    let note = 'copies; same digest, keeps the id';
    if (!this.sameOwner(oldR, writer)) {
      // UPDATE_ROLLBACK after a failed Update: the old properties are the failed ones, which
      // wrote nothing; a tag they name may be another client's.
      note += '; the old properties did not write the id: nothing released';
    } else if (oldR.policy === 'destroy') {
      const named = new Set(this.names(newR));
      const stale = this.writes(oldR, owned).filter(w => !named.has(`${oldR.host}/${oldR.repo}:${w.tag}`));
      const done = this.remove(s, oldR.repo, stale);
      if (done.length) note += `; removes old tags: ${done.join('; ')}`;
    }
    return { status: 'SUCCESS', id: idIn, digest: d, state: s, note };
  }

  delete(state: State, idIn: string | undefined, r: Resolved): Expected {
    const s = clone(state);
    const owned = digestOfId(idIn);
    if (r.policy === 'retain') return { status: 'SUCCESS', id: idIn, state: s, note: 'retain: nothing deleted' };
    if (!owned) return { status: 'SUCCESS', id: idIn, state: s, note: 'the id owns no digest: nothing deleted' };
    const done = this.remove(s, r.repo, this.writes(r, owned));
    return { status: 'SUCCESS', id: idIn, state: s, note: done.length ? done.join('; ') : 'nothing of it left to delete' };
  }
}

// ---------------------------------------------------------------------------------------------
// The CloudFormation side: which events follow which responses, with checks after every step.

export interface StepRecord {
  label: string;
  /** The digest the event's PhysicalResourceId carries (symbolic), or '-'. */
  sentId: string;
  status: string;
  id: string;
  reason?: string;
  seconds: number;
  observed: string;
  expected: string;
  note: string;
  problems: string[];
}

export interface RowResult {
  row: Row;
  steps: StepRecord[];
  problems: string[];
  seconds: number;
}

function sortedState(s: State): State {
  const out: State = {};
  for (const r of Object.keys(s).sort()) {
    out[r] = {};
    for (const t of Object.keys(s[r]).sort()) out[r][t] = s[r][t];
  }
  return out;
}

export async function runRow(lw: LifecycleWorld, row: Row): Promise<RowResult> {
  const started = Date.now();
  const { scenario, policy, kind } = row;
  const names = lw.repos();
  const host = lw.destHost(row);
  const problems: string[] = [];
  const steps: StepRecord[] = [];
  const oracle = new Oracle(kind, lw.images, scenario.refuse ?? [], scenario.untaggedA ? [lw.images.A.digest] : []);
  const p = buildImage('amd64', [1536]);
  const sym = new Map<string, string>([[lw.images.A.digest, 'A'], [lw.images.B.digest, 'B'], [lw.images.IDX.digest, 'IDX'], [lw.images.IDX2.digest, 'IDX2'], [p.digest, 'P']]);
  for (const [arch, d] of Object.entries(lw.images.IDX2.arch ?? {})) sym.set(d, `IDX2/${arch}`);
  for (const [arch, d] of Object.entries(lw.images.IDX.arch ?? {})) sym.set(d, `IDX/${arch}`);
  const symOf = (d?: string) => (d ? sym.get(d) ?? d.slice(7, 19) : '-');
  const showState = (s: State) => Object.entries(sortedState(s))
    .map(([r, tags]) => `${r.replace(/^lm-\w+-\d+-/, '')}{${Object.entries(tags).map(([t, d]) => `${t}=${symOf(d)}`).join(' ')}}`).join(' ');
  const showId = (id?: string) => (id === undefined ? '-' : id.replace(/^[^/]+\/lm-\w+-\d+-/, '').replace(ID_DIGEST, (_m, d) => `@${symOf(d)}`));

  const resolve = (ps: PropSet): Resolved => {
    const repo = names[ps.repo];
    let dest = `docker://${host}/${repo}:${ps.tag}`;
    if (ps.spelling === 'host-case') dest = `docker://${host.toUpperCase()}/${repo}:${ps.tag}`;
    if (ps.spelling === 'white-space') dest = `  ${dest} \n`;
    const props: Record<string, any> = { ...JSON.parse(JSON.stringify(lw.base.properties)), SrcImage: `docker://${lw.srcRef(ps.src)}`, DestImage: dest };
    // Encoded as the construct encodes them (src/ecr-deployment.ts); CloudFormation passes strings.
    if (ps.copyImageIndex) props.CopyImageIndex = 'true';
    if (ps.archImageTags) props.ArchImageTags = JSON.stringify(ps.archImageTags);
    if (ps.retry) props.RetryConfigs = JSON.stringify(ps.retry);
    if (ps.destTags?.length) props.DestTags = JSON.stringify(ps.destTags);
    if (policy === 'destroy') props.RemovalPolicy = 'destroy';
    return { ps, policy, repo, host: host.toLowerCase(), props };
  };
  const sets = scenario.props.map(resolve);
  const named = (ps: PropSet) => [ps.tag, ...(ps.destTags ?? []), ...Object.values(ps.archImageTags ?? {})];
  const repos = [...new Set(sets.map(s => s.repo))];

  // Seed: the pre-existing image P at every tag any property set names; another owner's tags on A.
  const pusher = lw.pushClient();
  const faults: RuleHandle[] = [];
  try {
    if (row.pre) {
      for (const s of sets) {
        for (const t of named(s.ps)) await pushBuilt(pusher, s.repo, t, p);
      }
    }
    for (const t of scenario.sharedA ?? []) await pushBuilt(pusher, sets[0].repo, t, lw.images.A);
    if (scenario.untaggedA) await pushBuilt(pusher, sets[0].repo, undefined, lw.images.A);
    for (const t of scenario.refuse ?? []) {
      for (const r of repos) {
        faults.push(lw.fault.rule({
          name: `refuse ${r}:${t}`,
          method: 'PUT',
          path: new RegExp(`^/v2/${r}/manifests/${t}$`),
          fault: { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'TAG_INVALID', message: `tag ${t} refused by policy (e2e fault)` }] }) },
        }));
      }
    }

    let { view: state } = await lw.observe(repos);
    const seeded: State = Object.fromEntries(repos.map(r => [r, {}]));
    if (row.pre) for (const s of sets) for (const t of named(s.ps)) seeded[s.repo][t] = p.digest;
    for (const t of scenario.sharedA ?? []) seeded[sets[0].repo][t] = lw.images.A.digest;
    if (JSON.stringify(sortedState(state)) !== JSON.stringify(sortedState(seeded))) {
      problems.push(`seed: expected ${showState(seeded)}, observed ${showState(state)}`);
    }
    steps.push({ label: 'seed', sentId: '-', status: '', id: '', seconds: 0, observed: showState(state), expected: showState(seeded), note: row.pre ? 'P at every destination tag' : 'empty', problems: [] });

    const d = lw.w.resource({ ...lw.base, properties: sets[0].props });
    const check = async (label: string, out: Outcome, exp: Expected): Promise<Outcome> => {
      const mine: string[] = [];
      const r = out.response;
      if (kind === 'ecr') {
        const done = await lw.mirror!.reconcile(repos);
        if (done.length) exp.note += ` [harness: ${done.join('; ')}]`;
      }
      const { view, registry } = await lw.observe(repos);
      if (r.Status !== exp.status) mine.push(`Status ${r.Status}, expected ${exp.status}${r.Reason ? ` (Reason: ${r.Reason})` : ''}`);
      if (r.Status === 'FAILED') {
        if (!r.Reason || !r.Reason.trim()) mine.push('FAILED with an empty Reason');
        if (/Invalid PhysicalResourceId/i.test(r.Reason ?? '')) mine.push(`Reason is "${r.Reason}"`);
      }
      if (!r.PhysicalResourceId || !r.PhysicalResourceId.trim()) mine.push('empty PhysicalResourceId');
      if (r.RequestId !== out.event.RequestId || r.StackId !== out.event.StackId || r.LogicalResourceId !== out.event.LogicalResourceId) {
        mine.push('RequestId/StackId/LogicalResourceId do not match the event');
      }
      // A new id is predicted without its fingerprint; a kept one is compared whole.
      const answered = exp.id !== undefined && !ID_FINGERPRINT.test(exp.id) ? r.PhysicalResourceId?.replace(ID_FINGERPRINT, '') : r.PhysicalResourceId;
      if (exp.id !== undefined && answered !== exp.id) mine.push(`PhysicalResourceId ${r.PhysicalResourceId}, expected ${exp.id}`);
      if (r.Status === 'SUCCESS' && exp.digest && !ID_FINGERPRINT.test(r.PhysicalResourceId ?? '')) {
        mine.push(`PhysicalResourceId ${r.PhysicalResourceId} carries no fingerprint of the properties that wrote it`);
      }
      if (exp.id === undefined && exp.status === 'FAILED' && /@sha256:/.test(r.PhysicalResourceId ?? '')) {
        mine.push(`a failed Create answered ${r.PhysicalResourceId}, an id that carries a digest (it owns nothing)`);
      }
      if (r.Status === 'SUCCESS' && exp.digest && r.Data?.ImageDigest !== exp.digest) mine.push(`Data.ImageDigest ${r.Data?.ImageDigest}, expected ${exp.digest}`);
      const want = JSON.stringify(sortedState(exp.state));
      if (JSON.stringify(sortedState(view)) !== want) mine.push(`state ${showState(view)}, expected ${showState(exp.state)}`);
      if (kind === 'ecr' && JSON.stringify(sortedState(registry)) !== JSON.stringify(sortedState(view))) {
        mine.push(`registry view ${showState(registry)} differs from the ECR API view ${showState(view)}`);
      }
      if (scenario.untaggedA) {
        const reg = kind === 'ecr' ? lw.w.ecrClient() : lw.w.openClient();
        if (!(await reg.headManifest(sets[0].repo, lw.images.A.digest))) mine.push('A, in the repository before the sequence, is gone');
      }
      const anomalies = lw.mirror?.anomalies.splice(0) ?? [];
      mine.push(...anomalies.map(a => `ECR mirror: ${a}`));
      steps.push({
        label,
        sentId: showId(out.event.PhysicalResourceId),
        status: r.Status,
        id: showId(r.PhysicalResourceId),
        reason: r.Status === 'FAILED' ? r.Reason : undefined,
        seconds: out.seconds,
        observed: showState(view),
        expected: showState(exp.state),
        note: exp.note,
        problems: mine,
      });
      problems.push(...mine.map(m => `${label}: ${m}`));
      state = view;
      return out;
    };

    // CloudFormation reacts to what the handler answered, as it would in a real stack. Each
    // expectation is computed from the state observed before the step and the event sent.
    const [p0, p1] = sets;
    const done = () => ({ row, steps, problems, seconds: (Date.now() - started) / 1000 });
    let exp = oracle.create(state, p0);
    const created = await check('Create', await d.create(), exp);
    if (created.response.Status === 'FAILED') {
      // CREATE_FAILED -> ROLLBACK_IN_PROGRESS: Delete with the id the FAILED response carried, same properties.
      exp = oracle.delete(state, d.physicalResourceId, p0);
      await check('rollback Delete', await d.delete(), exp);
      return done();
    }
    let last = p0;
    if (p1) {
      const before = d.physicalResourceId;
      exp = oracle.update(state, before, p0, p1, p0);
      const updated = await check('Update', await d.update(p1.props), exp);
      if (JSON.stringify(updated.event.OldResourceProperties) !== JSON.stringify(p0.props)) problems.push('Update: OldResourceProperties is not the old properties');
      if (updated.response.Status === 'SUCCESS') {
        last = p1;
        if (d.pendingCleanup) {
          // UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (only when the id changed): the old id with the old properties.
          exp = oracle.delete(state, d.pendingCleanup.physicalResourceId, p0);
          await check('cleanup Delete (old id)', await d.cleanupDelete(), exp);
        }
      } else {
        // UPDATE_ROLLBACK_IN_PROGRESS: back to the old properties (OldResourceProperties = the
        // failed ones), with the id the resource had before the failed Update.
        exp = oracle.update(state, before, p1, p0, p0);
        const rolled = await check('rollback Update', await d.rollbackUpdate(), exp);
        if (rolled.event.PhysicalResourceId !== before) problems.push('rollback Update: not sent with the id from before the failed Update');
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        if (!same(rolled.event.ResourceProperties, p0.props) || !same(rolled.event.OldResourceProperties, p1.props)) {
          problems.push('rollback Update: ResourceProperties must be the old ones and OldResourceProperties the failed ones');
        }
        if (rolled.response.Status !== 'SUCCESS') {
          problems.push('UPDATE_ROLLBACK_FAILED: the stack is stuck; no further events');
          return done();
        }
        if (d.pendingCleanup) {
          // UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: the id the FAILED response carried, with the failed properties.
          exp = oracle.delete(state, d.pendingCleanup.physicalResourceId, p1);
          await check('cleanup Delete (failed id)', await d.cleanupDelete(), exp);
        }
      }
    }
    // S6: the stack delete, with the id and properties the resource has now.
    exp = oracle.delete(state, d.physicalResourceId, last);
    await check('stack Delete', await d.delete(), exp);
    return done();
  } finally {
    for (const f of faults) f.remove();
  }
}

/** One markdown block per row: the steps, what was observed after each, and what the spec says. */
export function formatRow(res: RowResult): string {
  const lines = [`### ${res.row.name} — ${res.problems.length ? 'FAIL' : 'pass'} (${res.seconds.toFixed(1)} s)`, '',
    '| step | id sent | status | id returned | tags after (observed) | expected | spec |', '|---|---|---|---|---|---|---|'];
  for (const s of res.steps) {
    const exp = s.expected === s.observed ? '=' : s.expected;
    lines.push(`| ${s.label} | ${s.sentId} | ${s.status}${s.reason ? `: ${s.reason.replace(/\|/g, '/').slice(0, 160)}` : ''} | ${s.id} | ${s.observed} | ${exp} | ${s.note.replace(/\|/g, '/')} |`);
  }
  if (res.problems.length) lines.push('', ...res.problems.map(p => `- ${p}`));
  return lines.join('\n') + '\n';
}
