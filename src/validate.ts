import { Token } from 'aws-cdk-lib';
import { locateImage } from './image-uri';
import { KNOWN_ARCHITECTURES, PLATFORM_GRAMMAR, RETRY_DEFAULTS_TEXT, isKnownArchitecture, isValidTag, parsePlatform, retryProblem } from './rules';

export { KNOWN_ARCHITECTURES, RETRY_FIELDS } from './rules';

// Two kinds of finding. An app that synthesizes with upstream 4.2.65 must synthesize with ours
// (issue 14), so a bad value of a prop upstream has is a synth-time *warning*: the handler still
// refuses it at deploy time with a FAILED Reason. Only what upstream refuses too, props upstream
// does not have (destTags, assumeRole, ...), and what this construct cannot build are errors.

/**
 * A value that synthesizes (as with upstream) but that the handler will refuse at deploy time.
 */
export interface PropWarning {
  /** Suffix of the acknowledgeable warning id, `cdk-ecr-deployment:<id>`. */
  readonly id: string;
  readonly message: string;
}

/** What is wrong with a value and what to do about it. */
interface Problem {
  readonly what: string;
  readonly fix: string;
  /** Who refuses it at deploy time. @default the handler */
  readonly refusedBy?: string;
}

/**
 * Thrown for props that can never deploy and that upstream does not have; the message names the prop.
 */
function invalid(prop: string, message: string): never {
  throw new Error(`ECRDeployment: ${prop}: ${message}`);
}

/** The warning for a problem: the prop, what is wrong, that the deployment will fail, what to do. */
function warning(id: string, prop: string, p: Problem): PropWarning {
  return { id, message: `ECRDeployment: ${prop}: ${p.what}. The deployment will fail (${p.refusedBy ?? 'the handler refuses it'}); ${p.fix}` };
}

const TAG_GRAMMAR = 'a tag is 1 to 128 characters of letters, digits, \'_\', \'.\' and \'-\', not starting with \'.\' or \'-\'';

function tagProblem(tag: string): Problem | undefined {
  if (Token.isUnresolved(tag) || isValidTag(tag)) {
    return undefined;
  }
  return { what: `invalid tag ${JSON.stringify(tag)}: ${TAG_GRAMMAR}`, fix: 'write a valid tag' };
}

/** Throws for an invalid tag: for props upstream does not have (destTags). */
export function validateTag(prop: string, tag: string): void {
  const p = tagProblem(tag);
  if (p) {
    invalid(prop, p.what);
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

/** The tag of an archImageTags entry: a warning when the handler will refuse it. */
export function archTagWarning(arch: string, tag: string): PropWarning | undefined {
  if (typeof tag !== 'string') {
    return warning('archImageTags', 'archImageTags', { what: `the tag for ${JSON.stringify(arch)} is not a string`, fix: 'give each architecture a tag string' });
  }
  if (tagProblem(tag) === undefined) {
    return undefined;
  }
  return warning('archImageTags', 'archImageTags', { what: `invalid tag ${JSON.stringify(tag)} for ${JSON.stringify(arch)}: ${TAG_GRAMMAR}`, fix: 'write a valid tag' });
}

/**
 * Checks the literal parts of an image uri. Upstream synthesizes any string, so what the handler
 * will refuse comes back as a warning; only a uri that is not a string (upstream fails on it
 * too) throws.
 */
export function imageUriWarning(prop: string, uri: string, opts: { destination: boolean }): PropWarning | undefined {
  if (typeof uri !== 'string') {
    invalid(prop, 'uri must be a string');
  }
  const p = imageUriProblem(uri, opts);
  return p ? warning(prop, prop, p) : undefined;
}

function imageUriProblem(uri: string, opts: { destination: boolean }): Problem | undefined {
  const loc = locateImage(uri);
  const quoted = JSON.stringify(uri);
  if (!Token.isUnresolved(uri) && /\s/.test(uri)) {
    return { what: `image uri ${quoted} contains white space`, fix: 'remove the white space' };
  }
  if (loc.transport === 'unknown' && !Token.isUnresolved(uri)) {
    return { what: `unsupported image uri ${quoted}`, fix: 'use DockerImageName (docker://) or S3ArchiveName (s3://)' };
  }
  if (loc.literal && loc.name === '') {
    return {
      what: `image uri ${quoted} names no image`,
      fix: loc.transport === 's3' ? 'give the archive as bucket/key, e.g. new S3ArchiveName(\'my-bucket/app.tar\')' : 'give the image\'s name, e.g. new DockerImageName(\'nginx:latest\')',
    };
  }
  if (opts.destination && loc.transport === 's3') {
    return {
      what: `the destination must be a registry image (docker://); an s3:// archive can only be a source, got ${quoted}`,
      fix: 'give a DockerImageName as dest',
    };
  }
  if (loc.transport !== 'docker' || !loc.literal) {
    return undefined;
  }
  const name = loc.name;
  const at = name.indexOf('@');
  const beforeDigest = at >= 0 ? name.slice(0, at) : name;
  if (at >= 0 && !/^sha256:[a-f0-9]{64}$/.test(name.slice(at + 1))) {
    return { what: `invalid digest in ${quoted}: expected @sha256: followed by 64 hex digits`, fix: 'write the whole digest in lowercase hex, or drop it' };
  }
  const lastSlash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.indexOf(':', lastSlash + 1);
  const path = colon >= 0 ? beforeDigest.slice(0, colon) : beforeDigest;
  if (colon >= 0) {
    const t = tagProblem(beforeDigest.slice(colon + 1));
    if (t) {
      return t;
    }
    // A source may carry both (name:tag@digest, as Renovate writes it): the handler copies
    // the digest and treats the tag as a comment. A destination is written, and a tag next
    // to a digest cannot both be honoured; the handler refuses it the same way.
    if (at >= 0 && opts.destination) {
      return { what: `image uri ${quoted} has both a tag and a digest`, fix: 'give a tag or a digest, not both' };
    }
  }
  const components = path.split('/');
  // The first component is a registry host when it looks like one (docker's own rule).
  const first = components[0];
  const repo = components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? components.slice(1) : components;
  for (const c of repo) {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c)) {
      return {
        what: `invalid repository name in ${quoted}: path component ${JSON.stringify(c)} must be lowercase letters, digits and separators (. _ -)`,
        fix: 'write the repository name in lowercase',
      };
    }
  }
  return undefined;
}

/**
 * Checks retryConfigs. Upstream writes any object into RetryConfigs, so each problem is a warning.
 */
export function retryWarnings(retry: { [field: string]: number }): PropWarning[] {
  const out: PropWarning[] = [];
  const literal: { [field: string]: number } = {};
  const fix = `correct it, or omit retryConfigs for the defaults (${RETRY_DEFAULTS_TEXT})`;
  for (const [field, value] of Object.entries(retry)) {
    if (Token.isUnresolved(value)) {
      // JSON.stringify (which upstream uses, and so do we) writes a number token as its encoded
      // double, a huge negative number the handler refuses.
      out.push(warning('retryConfigs', 'retryConfigs', { what: `${field} must be a literal number, not a token`, fix: 'give a literal number' }));
    } else {
      literal[field] = value;
    }
  }
  const problem = retryProblem(literal);
  if (problem) {
    out.push(warning('retryConfigs', 'retryConfigs', { what: problem.message, fix }));
  }
  return out;
}

/** Lambda's memory range; upstream passes memoryLimit through, and Lambda refuses it at deploy time. */
export function memoryWarning(memoryLimit: number): PropWarning | undefined {
  if (memoryLimit >= 128 && memoryLimit <= 10240) {
    return undefined;
  }
  return warning('memoryLimit', 'memoryLimit', {
    what: `must be between 128 and 10240 MiB, got ${memoryLimit}`,
    fix: 'give a value in that range, or omit it for 512',
    refusedBy: 'Lambda refuses the function',
  });
}
