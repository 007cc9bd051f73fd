// Test images made without Docker: random-content tar layers, config JSON with architecture
// and os, single-arch manifests, Docker manifest lists and OCI indexes (optionally with a
// BuildKit-style attestation manifest), and `docker save` tarballs.
import * as crypto from 'crypto';
import * as zlib from 'zlib';
import { MT, RegistryClient, sha256 } from './registry-client';

/** A tar archive (ustar) holding regular files. */
export function tar(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512, 0);
    h.write(f.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(f.data.length.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    h.write('00000000000\0', 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    parts.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

export interface Layer {
  tar: Buffer;
  gz: Buffer;
  /** sha256 of the uncompressed tar (rootfs.diff_ids). */
  diffId: string;
  /** sha256 of the gzip blob. */
  digest: string;
}

/** A layer holding one file of `size` random bytes. */
export function randomLayer(size: number, name = `data-${crypto.randomBytes(4).toString('hex')}.bin`): Layer {
  const t = tar([{ name, data: crypto.randomBytes(size) }]);
  const gz = zlib.gzipSync(t, { level: 1 });
  return { tar: t, gz, diffId: sha256(t), digest: sha256(gz) };
}

export function imageConfig(arch: string, layers: Layer[], variant?: string): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: arch,
    ...(variant ? { variant } : {}),
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map(l => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'e2e' })),
  }));
}

export interface PushedManifest {
  digest: string;
  size: number;
  mediaType: string;
  arch: string;
  /** Bytes of all blobs (config + layers). */
  blobBytes: number;
}

export type Format = 'docker' | 'oci';

/**
 * Pushes a single-arch image and tags it (tag may be undefined to push by digest only): the
 * `baseLayers` given (shared with other images), then one random layer per size.
 */
export async function pushImage(client: RegistryClient, repo: string, tag: string | undefined, opts: {
  arch: string; layerSizes: number[]; format?: Format; variant?: string; baseLayers?: Layer[];
}): Promise<PushedManifest> {
  const format = opts.format ?? 'docker';
  const layers = [...opts.baseLayers ?? [], ...opts.layerSizes.map(s => randomLayer(s))];
  const config = imageConfig(opts.arch, layers, opts.variant);
  for (const l of layers) await client.pushBlob(repo, l.gz);
  await client.pushBlob(repo, config);
  const mediaType = format === 'docker' ? MT.dockerManifest : MT.ociManifest;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: format === 'docker' ? MT.dockerConfig : MT.ociConfig, size: config.length, digest: sha256(config) },
    layers: layers.map(l => ({ mediaType: format === 'docker' ? MT.dockerLayerGzip : MT.ociLayerGzip, size: l.gz.length, digest: l.digest })),
  }));
  const digest = await client.putManifest(repo, tag ?? sha256(manifest), mediaType, manifest);
  if (digest !== sha256(manifest)) throw new Error(`registry digest ${digest} != ${sha256(manifest)}`);
  return { digest, size: manifest.length, mediaType, arch: opts.arch, blobBytes: config.length + layers.reduce((a, l) => a + l.gz.length, 0) };
}

/** A BuildKit-style attestation manifest for `subject`: platform unknown/unknown in the index. */
export async function pushAttestation(client: RegistryClient, repo: string): Promise<PushedManifest> {
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document', subject: [], predicate: {} }));
  const config = Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(statement)] } }));
  await client.pushBlob(repo, statement);
  await client.pushBlob(repo, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, size: config.length, digest: sha256(config) },
    layers: [{ mediaType: MT.inToto, size: statement.length, digest: sha256(statement), annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
  }));
  const digest = await client.putManifest(repo, sha256(manifest), MT.ociManifest, manifest);
  return { digest, size: manifest.length, mediaType: MT.ociManifest, arch: 'unknown', blobBytes: config.length + statement.length };
}

/** Pushes a manifest list / OCI index over already-pushed children and tags it. */
export async function pushIndex(client: RegistryClient, repo: string, tag: string, children: PushedManifest[], opts: {
  format: Format; attestationFor?: { attestation: PushedManifest; subject: PushedManifest };
}): Promise<{ digest: string; mediaType: string; body: any }> {
  const mediaType = opts.format === 'docker' ? MT.dockerList : MT.ociIndex;
  const manifests: any[] = children.map(c => ({
    mediaType: c.mediaType,
    size: c.size,
    digest: c.digest,
    platform: { architecture: c.arch, os: 'linux', ...(c.arch === 'arm64' ? { variant: 'v8' } : {}) },
  }));
  if (opts.attestationFor) {
    const { attestation, subject } = opts.attestationFor;
    manifests.push({
      mediaType: attestation.mediaType,
      size: attestation.size,
      digest: attestation.digest,
      platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subject.digest },
    });
  }
  const body = { schemaVersion: 2, mediaType, manifests };
  const digest = await client.putManifest(repo, tag, mediaType, JSON.stringify(body));
  return { digest, mediaType, body };
}

/** A `docker save` tarball: manifest.json, config JSON and one layer.tar per layer. */
export interface DockerSaveArchive {
  tarball: Buffer;
  configDigest: string;
  diffIds: string[];
}

export function dockerSave(opts: { repoTags: string[]; arch: string; layerSizes: number[] }): DockerSaveArchive {
  const layers = opts.layerSizes.map(s => randomLayer(s));
  const config = imageConfig(opts.arch, layers);
  const configHex = sha256(config).slice(7);
  const files = [
    { name: `${configHex}.json`, data: config },
    ...layers.map(l => ({ name: `${l.diffId.slice(7)}/layer.tar`, data: l.tar })),
    {
      name: 'manifest.json',
      data: Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: opts.repoTags, Layers: layers.map(l => `${l.diffId.slice(7)}/layer.tar`) }])),
    },
  ];
  return { tarball: tar(files), configDigest: sha256(config), diffIds: layers.map(l => l.diffId) };
}

/** A Docker 25+ `docker save` tarball (containerd image store): an OCI image layout. */
export interface DockerSave25Archive {
  tarball: Buffer;
  /** What index.json names: the image index. */
  indexDigest: string;
  /** The image manifest the index holds for linux/amd64. */
  manifestDigest: string;
  /** The BuildKit attestation manifest (platform unknown/unknown) the index holds. */
  attestationDigest: string;
}

/**
 * oci-layout, index.json -> an image index -> the image manifest (gzip layers, as stored by
 * the containerd store) plus a BuildKit attestation manifest with an in-toto layer, and the
 * legacy manifest.json, all blobs under blobs/sha256/.
 */
export function dockerSave25(opts: { name: string; repoTags: string[]; layerSizes: number[] }): DockerSave25Archive {
  const blobs = new Map<string, Buffer>();
  const put = (data: Buffer) => { const d = sha256(data); blobs.set(d, data); return { size: data.length, digest: d }; };
  const layers = opts.layerSizes.map(s => randomLayer(s));
  const config = imageConfig('amd64', layers);
  const cfg = put(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, ...cfg },
    layers: layers.map(l => ({ mediaType: MT.ociLayerGzip, ...put(l.gz) })),
  }));
  const m = put(manifest);
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document', subject: [{ digest: { sha256: m.digest.slice(7) } }], predicate: {} }));
  const st = put(statement);
  const attCfg = put(Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [st.digest] } })));
  const att = put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, ...attCfg },
    layers: [{ mediaType: MT.inToto, ...st, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
  })));
  const index = put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [
      { mediaType: MT.ociManifest, ...m, platform: { architecture: 'amd64', os: 'linux' } },
      {
        mediaType: MT.ociManifest,
        ...att,
        platform: { architecture: 'unknown', os: 'unknown' },
        annotations: { 'vnd.docker.reference.digest': m.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
      },
    ],
  })));
  const tag = opts.name.slice(opts.name.lastIndexOf(':') + 1);
  const files = [
    ...[...blobs].map(([d, data]) => ({ name: `blobs/sha256/${d.slice(7)}`, data })),
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    {
      name: 'index.json',
      data: Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [{ mediaType: MT.ociIndex, ...index, annotations: { 'io.containerd.image.name': opts.name, 'org.opencontainers.image.ref.name': tag } }],
      })),
    },
    {
      name: 'manifest.json',
      data: Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${cfg.digest.slice(7)}`, RepoTags: opts.repoTags, Layers: layers.map(l => `blobs/sha256/${l.digest.slice(7)}`) }])),
    },
  ];
  return { tarball: tar(files), indexDigest: index.digest, manifestDigest: m.digest, attestationDigest: att.digest };
}
