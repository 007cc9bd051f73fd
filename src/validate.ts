import { Token } from 'aws-cdk-lib';
import { locateImage } from './image-uri';

/**
 * Architectures the copier can select; the names are Go's GOARCH values, as in OCI platforms.
 */
export const KNOWN_ARCHITECTURES = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64', 'mips64le', 'loong64'];

/** Fields `retryConfigs` accepts; the copier rejects others too. */
export const RETRY_FIELDS = ['numAttempts', 'baseDelay', 'maxDelay'];

// OCI distribution spec: a tag is at most 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Thrown for props that can never deploy; the message names the prop.
 */
function invalid(prop: string, message: string): never {
  throw new Error(`ECRDeployment: ${prop}: ${message}`);
}

export function validateTag(prop: string, tag: string): void {
  if (Token.isUnresolved(tag)) {
    return;
  }
  if (!TAG.test(tag)) {
    invalid(prop, `invalid tag ${JSON.stringify(tag)}: a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
  }
}

export function validateArch(prop: string, arch: string): void {
  if (Token.isUnresolved(arch)) {
    invalid(prop, 'architectures must be literal strings, not tokens, because they select what is copied at synth time');
  }
  if (!KNOWN_ARCHITECTURES.includes(arch)) {
    invalid(prop, `unknown architecture ${JSON.stringify(arch)}; expected one of ${KNOWN_ARCHITECTURES.join(', ')}`);
  }
}

/**
 * Checks the literal parts of an image uri: a clear synth-time error beats a FAILED deploy.
 */
export function validateImageUri(prop: string, uri: string, opts: { destination: boolean }): void {
  if (typeof uri !== 'string') {
    invalid(prop, 'uri must be a string');
  }
  const loc = locateImage(uri);
  if (!Token.isUnresolved(uri) && /\s/.test(uri)) {
    invalid(prop, `image uri ${JSON.stringify(uri)} contains white space`);
  }
  if (loc.transport === 'unknown' && !Token.isUnresolved(uri)) {
    invalid(prop, `unsupported image uri ${JSON.stringify(uri)}: use DockerImageName (docker://) or S3ArchiveName (s3://)`);
  }
  if (loc.literal && loc.name === '') {
    invalid(prop, `image uri ${JSON.stringify(uri)} names no image`);
  }
  if (opts.destination && loc.transport === 's3') {
    invalid(prop, `the destination must be a registry image (docker://); an s3:// archive can only be a source, got ${JSON.stringify(uri)}`);
  }
  if (loc.transport !== 'docker' || !loc.literal) {
    return;
  }
  const name = loc.name;
  const at = name.indexOf('@');
  const beforeDigest = at >= 0 ? name.slice(0, at) : name;
  if (at >= 0 && !/^sha256:[a-f0-9]{64}$/.test(name.slice(at + 1))) {
    invalid(prop, `invalid digest in ${JSON.stringify(uri)}: expected @sha256: followed by 64 hex digits`);
  }
  const lastSlash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.indexOf(':', lastSlash + 1);
  const path = colon >= 0 ? beforeDigest.slice(0, colon) : beforeDigest;
  if (colon >= 0) {
    validateTag(prop, beforeDigest.slice(colon + 1));
    // A source may carry both (name:tag@digest, as Renovate writes it): the handler copies
    // the digest and treats the tag as a comment. A destination is written, and a tag next
    // to a digest cannot both be honoured; the handler refuses it the same way.
    if (at >= 0 && opts.destination) {
      invalid(prop, `image uri ${JSON.stringify(uri)} has both a tag and a digest; give a tag or a digest, not both`);
    }
  }
  const components = path.split('/');
  // The first component is a registry host when it looks like one (docker's own rule).
  const first = components[0];
  const repo = components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? components.slice(1) : components;
  for (const c of repo) {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c)) {
      invalid(prop, `invalid repository name in ${JSON.stringify(uri)}: path component ${JSON.stringify(c)} must be lowercase letters, digits and separators (. _ -)`);
    }
  }
}

export function validateRetryConfigs(retry: { [field: string]: number }): void {
  for (const [field, value] of Object.entries(retry)) {
    if (!RETRY_FIELDS.includes(field)) {
      invalid('retryConfigs', `unknown field ${JSON.stringify(field)}; allowed: ${RETRY_FIELDS.join(', ')}`);
    }
    if (Token.isUnresolved(value)) {
      invalid('retryConfigs', `${field} must be a literal number, not a token`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      invalid('retryConfigs', `${field} must be a non-negative number, got ${JSON.stringify(value)}`);
    }
  }
  const attempts = retry.numAttempts;
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1)) {
    invalid('retryConfigs', `numAttempts must be a whole number of at least 1, got ${attempts}`);
  }
  if (retry.baseDelay !== undefined && retry.maxDelay !== undefined && retry.baseDelay > retry.maxDelay) {
    invalid('retryConfigs', `baseDelay (${retry.baseDelay}) must not exceed maxDelay (${retry.maxDelay})`);
  }
}
