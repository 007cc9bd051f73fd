import { Token } from 'aws-cdk-lib';
import { locateImage } from './image-uri';
import { KNOWN_ARCHITECTURES, PLATFORM_GRAMMAR, isKnownArchitecture, isValidTag, parsePlatform, retryProblem } from './rules';

export { KNOWN_ARCHITECTURES, RETRY_FIELDS } from './rules';

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
  if (!isValidTag(tag)) {
    invalid(prop, `invalid tag ${JSON.stringify(tag)}: a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'`);
  }
}

/**
 * Checks one architecture entry against the rulebook's platform grammar. Upstream takes any
 * string here, so nothing is refused: what the handler may not find gets a synth-time warning.
 *
 * @returns a warning, or undefined when the entry is a known architecture
 */
export function validateArch(prop: string, arch: string): string | undefined {
  if (Token.isUnresolved(arch)) {
    return `${prop}: an architecture given as a token cannot be checked at synth time; the handler refuses it at deploy time unless it is ${PLATFORM_GRAMMAR}`;
  }
  const p = parsePlatform(arch);
  if (!p) {
    return `${prop}: ${JSON.stringify(arch)} is not a platform the handler accepts (write ${PLATFORM_GRAMMAR}); the deployment will fail`;
  }
  if (!isKnownArchitecture(p.architecture)) {
    return `${prop}: unknown architecture ${JSON.stringify(p.architecture)} in ${JSON.stringify(arch)}; known: ${KNOWN_ARCHITECTURES.join(', ')}. The copy fails unless the source index has it`;
  }
  return undefined;
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
    if (Token.isUnresolved(value)) {
      invalid('retryConfigs', `${field} must be a literal number, not a token`);
    }
  }
  const problem = retryProblem(retry);
  if (problem) {
    invalid('retryConfigs', problem.message);
  }
}
