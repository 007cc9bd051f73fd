// README claims that no other test proved. Each test names the README section it proves;
// test/README.md maps every README claim to its test. Several tests read the figure or version
// straight out of README.md, so a reworded README must update them too (on purpose: the README
// and what is measured or built must not drift apart).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Aws, CfnParameter, Stack, aws_ec2 as ec2, aws_ecr as ecr, aws_ecs as ecs, aws_logs as logs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DockerImageName, ECRDeployment, ECRDeploymentProps } from '../src';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const ECR_DEST = `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:latest`;

function newStack(): Stack {
  return new Stack(new App(), 'Claims', { env: { account: '123456789012', region: 'us-east-1' } });
}

function deploy(stack: Stack, id: string, props: Partial<ECRDeploymentProps> = {}): ECRDeployment {
  return new ECRDeployment(stack, id, { src: new DockerImageName('nginx:latest'), dest: new DockerImageName(ECR_DEST), ...props });
}

function statements(template: Template): any[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(s: any): string[] {
  return [s.Action].flat();
}

/** The one README match of `re`, or a failure naming what was looked for. */
function fromReadme(re: RegExp): RegExpExecArray {
  const m = re.exec(README);
  if (!m) throw new Error(`README.md no longer says ${re}; update this test and test/README.md with it`);
  return m;
}

// ---- the shipped handler binaries ----------------------------------------------------------

const BOOTSTRAP = (arch: string) => path.join(ROOT, 'lambda-bin', arch, 'bootstrap');

function readBootstrap(arch: string): Buffer {
  const file = BOOTSTRAP(arch);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; run 'bash lambda/build.sh' (projen's pre-compile)`);
  return fs.readFileSync(file);
}

/** Go's build information (what `go version -m` prints), read from the binary itself. */
function goBuildInfo(bin: Buffer): { goVersion: string; settings: Record<string, string>; deps: string[] } {
  const magic = Buffer.from('\xff Go buildinf:', 'latin1');
  for (let at = bin.indexOf(magic); at >= 0; at = bin.indexOf(magic, at + 1)) {
    // The header is 32 bytes, 16-aligned; flag 2 means the two strings follow inline (Go 1.18+).
    if (at % 16 !== 0 || Math.floor(bin[at + 15] / 2) % 2 === 0) continue;
    let p = at + 32;
    const str = (): string => {
      let n = 0;
      let shift = 0;
      let b: number;
      do { b = bin[p++]; n += (b % 0x80) * 2 ** shift; shift += 7; } while (b >= 0x80);
      const s = bin.toString('utf8', p, p + n);
      p += n;
      return s;
    };
    const goVersion = str();
    const modinfo = str();
    const settings: Record<string, string> = {};
    const deps: string[] = [];
    for (const line of modinfo.split('\n')) {
      const [kind, a] = line.split('\t');
      if (kind === 'build') {
        const eq = a.indexOf('=');
        settings[a.slice(0, eq)] = a.slice(eq + 1);
      }
      if (kind === 'dep') deps.push(line.split('\t')[1]);
    }
    return { goVersion, settings, deps };
  }
  throw new Error('no Go build information in the binary');
}

/** ELF machine and whether the binary asks for a dynamic loader (a PT_INTERP program header). */
function elf(bin: Buffer): { machine: number; interpreter: boolean } {
  expect(bin.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  expect(bin[4]).toBe(2); // 64-bit
  const phoff = Number(bin.readBigUInt64LE(0x20));
  const phentsize = bin.readUInt16LE(0x36);
  const phnum = bin.readUInt16LE(0x38);
  let interpreter = false;
  for (let i = 0; i < phnum; i++) if (bin.readUInt32LE(phoff + i * phentsize) === 3) interpreter = true;
  return { machine: bin.readUInt16LE(0x12), interpreter };
}

describe('README "Security notes": the handler binary', () => {
  test('is built with the Go release README names, which is the toolchain line of lambda/go.mod', () => {
    const [, readmeGo] = fromReadme(/patched Go toolchain \(`(go[0-9.]+)`, pinned in `lambda\/go\.mod`\)/);
    const goMod = fs.readFileSync(path.join(ROOT, 'lambda', 'go.mod'), 'utf8');
    expect(/^toolchain (\S+)$/m.exec(goMod)?.[1]).toBe(readmeGo);
    for (const arch of ['amd64', 'arm64']) {
      expect({ arch, go: goBuildInfo(readBootstrap(arch)).goVersion }).toEqual({ arch, go: readmeGo });
    }
  });

  test('contains only the container transports it uses (docker, docker-archive, oci-archive)', () => {
    const text = readBootstrap('amd64').toString('latin1');
    const image = '(?:go\\.podman\\.io|github\\.com/containers)/image/v5/';
    // Function names stay in the pclntab of a stripped binary: a linked package shows up there.
    for (const used of ['docker', 'docker/archive', 'oci/archive']) {
      expect({ used, linked: new RegExp(`${image}${used}\\.`).test(text) }).toEqual({ used, linked: true });
    }
    for (const unused of ['storage', 'docker/daemon', 'directory', 'ostree', 'sif', 'tarball', 'openshift']) {
      expect({ unused, linked: new RegExp(`${image}${unused}\\.`).test(text) }).toEqual({ unused, linked: false });
    }
  });
});

describe('README "Development": lambda/build.sh', () => {
  test('builds lambda-bin/{amd64,arm64}/bootstrap with CGO_ENABLED=0: static binaries for each architecture', () => {
    fromReadme(/`lambda\/build\.sh` builds `lambda-bin\/\{amd64,arm64\}\/bootstrap` with `CGO_ENABLED=0`/);
    for (const [arch, machine] of [['amd64', 0x3e], ['arm64', 0xb7]] as const) {
      const bin = readBootstrap(arch);
      const info = goBuildInfo(bin);
      expect({ arch, cgo: info.settings.CGO_ENABLED, goarch: info.settings.GOARCH, goos: info.settings.GOOS })
        .toEqual({ arch, cgo: '0', goarch: arch, goos: 'linux' });
      expect({ arch, ...elf(bin) }).toEqual({ arch, machine, interpreter: false });
    }
  });
});

describe('README "Performance": the binary size', () => {
  test('the amd64 bootstrap is as big as README says (in MB)', () => {
    const [, mb] = fromReadme(/\*\*Binary\*\*: (\d+) MB for amd64/);
    const size = readBootstrap('amd64').length;
    expect({ mb: Math.round(size / 1e6), bytes: size }).toEqual({ mb: Number(mb), bytes: size });
  });
});

// ---- the package ---------------------------------------------------------------------------

describe('README "Install" and "Security notes": the npm package', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

  test('has no runtime dependencies, only the aws-cdk-lib and constructs peers', () => {
    fromReadme(/The package has no runtime\s+dependencies, only the `aws-cdk-lib` and `constructs` peers/);
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
    expect(pkg.bundledDependencies ?? pkg.bundleDependencies ?? []).toEqual([]);
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual([]);
    expect(Object.keys(pkg.peerDependencies ?? {}).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  });

  test('synthesizes with neither Go nor Docker on the PATH (the handler binaries are prebuilt)', () => {
    fromReadme(/You need neither Go nor Docker\./);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-go-no-docker-'));
    try {
      // A PATH holding only node: `go` or `docker` would not be found.
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin);
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      const out = path.join(dir, 'cdk.out');
      const app = path.join(dir, 'app.js');
      fs.writeFileSync(app, `
        require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, project: ${JSON.stringify(path.join(ROOT, 'tsconfig.dev.json'))} });
        const { App, Stack } = require(${JSON.stringify(require.resolve('aws-cdk-lib'))});
        const { DockerImageName, ECRDeployment } = require(${JSON.stringify(path.join(ROOT, 'src'))});
        const app = new App({ outdir: ${JSON.stringify(out)} });
        const stack = new Stack(app, 'NoToolchain');
        new ECRDeployment(stack, 'Deploy', {
          src: new DockerImageName('nginx:latest'),
          dest: new DockerImageName('123456789012.dkr.ecr.us-east-1.amazonaws.com/my-nginx:latest'),
        });
        app.synth();
      `);
      execFileSync(path.join(bin, 'node'), [app], { cwd: ROOT, env: { PATH: bin, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
      const template = JSON.parse(fs.readFileSync(path.join(out, 'NoToolchain.template.json'), 'utf8'));
      const fns = Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::Lambda::Function');
      expect(fns).toHaveLength(1);
      // The staged function code is the prebuilt amd64 bootstrap, byte for byte.
      const staged = fs.readdirSync(out).filter(n => n.startsWith('asset.')).map(n => path.join(out, n, 'bootstrap')).filter(f => fs.existsSync(f));
      expect(staged).toHaveLength(1);
      expect(fs.readFileSync(staged[0]).equals(readBootstrap('amd64'))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- the construct -------------------------------------------------------------------------

describe('README "Handler options": shared handlers', () => {
  test.each<[string, (stack: Stack, vpc: ec2.Vpc) => Partial<ECRDeploymentProps>]>([
    ['subnets', (_s, vpc) => ({ vpc, vpcSubnets: { subnetGroupName: 'b' } })],
    ['security groups', (s, vpc) => ({ vpc, securityGroups: [new ec2.SecurityGroup(s, 'Sg', { vpc })] })],
    ['log group', s => ({ logGroup: new logs.LogGroup(s, 'Logs') })],
  ])('a different %s gives another function', (_name, extra) => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, { name: 'b', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    // The baseline shares the VPC (when the case has one), so only the option named differs.
    const base = extra(stack, vpc);
    deploy(stack, 'First', base.vpc ? { vpc } : {});
    deploy(stack, 'Second', base);
    deploy(stack, 'SameAsSecond', base);
    const handlers = Template.fromStack(stack).findResources('AWS::Lambda::Function', { Properties: { Handler: 'bootstrap' } });
    expect(Object.keys(handlers)).toHaveLength(2);
  });
});

describe('README "Permissions granted"', () => {
  test('an ECR source gets exactly BatchGetImage, GetDownloadUrlForLayer and BatchCheckLayerAvailability on that repository', () => {
    const stack = newStack();
    deploy(stack, 'Deploy', { src: new DockerImageName('111122223333.dkr.ecr.eu-west-1.amazonaws.com/base/img:1') });
    const srcArn = 'arn:aws:ecr:eu-west-1:111122223333:repository/base/img';
    const onSource = statements(Template.fromStack(stack)).filter(s => JSON.stringify(s.Resource).includes('repository/base/img'));
    expect(onSource.map(s => s.Resource)).toEqual([srcArn]);
    expect(actionsOf(onSource[0]).sort()).toEqual(['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);
  });

  test('credentials that are tokens get no secret grant', () => {
    const stack = newStack();
    const creds = new CfnParameter(stack, 'Creds').valueAsString;
    deploy(stack, 'Deploy', { src: new DockerImageName('ghcr.io/org/app:1', creds) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CDKECRDeployment', { SrcCreds: { Ref: 'Creds' } });
    expect(statements(template).filter(s => actionsOf(s).some(a => a.startsWith('secretsmanager:')))).toEqual([]);
  });

  test('a secret named by string gets no kms:Decrypt (addToPrincipalPolicy adds it)', () => {
    const stack = newStack();
    deploy(stack, 'Deploy', { src: new DockerImageName('ghcr.io/org/app:1', 'registry-credentials') });
    const all = statements(Template.fromStack(stack));
    expect(all.filter(s => actionsOf(s).includes('secretsmanager:GetSecretValue'))).toHaveLength(1);
    expect(all.filter(s => actionsOf(s).some(a => a.startsWith('kms:')))).toEqual([]);
  });
});

describe('README "Pin the copied image by digest"', () => {
  test('a task definition given deployment.imageUri runs the image of Fn::GetAtt ImageUri', () => {
    const stack = newStack();
    const repo = new ecr.Repository(stack, 'Repo');
    const deployment = deploy(stack, 'DeployApi', {
      src: new DockerImageName('ghcr.io/org/api:2.3.1'),
      dest: new DockerImageName(repo.repositoryUriForTag('2.3.1')),
    });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
    taskDefinition.addContainer('api', { image: ecs.ContainerImage.fromRegistry(deployment.imageUri) });
    const template = Template.fromStack(stack);
    const [crId] = Object.keys(template.findResources('Custom::CDKECRDeployment'));
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Image: { 'Fn::GetAtt': [crId, 'ImageUri'] } })],
    });
  });
});

describe('README "Handler options": retries', () => {
  test('the default is 3 attempts, a 1 s base delay and a 10 s maximum, in the construct docs and the handler', () => {
    const [, attempts, base, max] = fromReadme(/The default is\s+(\d+) attempts, with a (\d+) s base delay and a (\d+) s maximum\./);
    const src = fs.readFileSync(path.join(ROOT, 'src', 'ecr-deployment.ts'), 'utf8');
    expect(src).toContain(`@default - ${attempts} attempts, ${base} second base delay, ${max} seconds max delay`);
    // The handler's defaults are the rulebook's (lambda/internal/props reads them; its tests and
    // test/e2e/faults/network.e2e.ts, which counts the 3 attempts, prove it uses them).
    const rules = JSON.parse(fs.readFileSync(path.join(ROOT, 'lambda', 'internal', 'rules', 'rules.json'), 'utf8'));
    const defaults = Object.fromEntries(rules.retry.fields.map((f: any) => [f.name, f.default]));
    expect(defaults).toEqual({ numAttempts: Number(attempts), baseDelay: Number(base), maxDelay: Number(max) });
  });
});

// ---- the README's figures against the last recorded bench run ------------------------------

describe('README "Performance": figures are those of bench/RESULTS.md', () => {
  const results = fs.readFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), 'utf8');
  const rows = results.split('\n').filter(l => l.startsWith('|')).map(l => l.split('|').slice(1, -1).map(c => c.trim()));

  /** The `ours` row of the case whose label starts with `label`. */
  function ours(label: string): string[] {
    const i = rows.findIndex(r => r[0].startsWith(label));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(rows[i][1]).toBe('ours');
    return rows[i];
  }
  const readmeRow = (label: string) => {
    const row = README.split('\n').find(l => l.startsWith(`| ${label} |`));
    if (!row) throw new Error(`README.md has no performance row "${label}"`);
    return row.split('|').slice(1, -1).map(c => c.trim());
  };

  test('wall and CPU ratios against upstream, per case', () => {
    // README row → RESULTS case; columns of RESULTS: case, copier, wall, vs upstream, vs skopeo, CPU, vs upstream, …
    for (const [readme, bench] of [
      ['fresh copy of 263 MB', '1. fresh copy'],
      ['re-run into the same tag', '2. re-run into the same tag'],
      ['a `docker save` archive from S3', '5. S3 docker-save archive'],
    ]) {
      const [, wall, cpu] = readmeRow(readme);
      const r = ours(bench);
      expect({ readme, wall: wall.split(',')[0], cpu }).toEqual({ readme, wall: r[3], cpu: r[6] });
    }
    const cold = rows.find(r => r[0] === 'ours' && /^\d/.test(r[1]) && r[2].endsWith('×'))!;
    expect(readmeRow('cold start')[1]).toBe(cold[2]);
  });

  test('the re-run writes nothing, the fresh copy is 263 MB, memory, disk, binaries, runs and duration', () => {
    expect(readmeRow('re-run into the same tag')[1]).toContain('with 0 blob uploads and 0 manifest PUTs');
    expect(results).toMatch(/\| 2 \| [^|]*\| 0 blob uploads, 0 manifest PUTs in \d+ runs/);
    // 200 + 50 + 1 MiB of blobs is 263 MB.
    expect(ours('1. fresh copy')[0]).toContain('(200 MiB + 50 MiB + 1 MiB)');
    expect(Math.round(251 * 2 ** 20 / 1e6)).toBe(263);

    const [, rss] = fromReadme(/\*\*Memory\*\* stays flat: (\d+) MiB peak RSS copying a 1 GiB layer/);
    const big = ours('6. one 1024 MiB layer');
    expect(Math.round(Number(big[7]))).toBe(Number(rss));

    fromReadme(/\*\*Disk\*\*: 0 bytes are written to `\/tmp`/);
    const tmp = rows.filter(r => r[1] === 'ours').map(r => r[8]);
    expect(tmp.length).toBeGreaterThan(5);
    expect(tmp.filter(t => t !== '0')).toEqual([]);

    // Our size is checked against the binary itself (above): RESULTS.md records the size of the
    // build it measured, which later builds outgrow. Upstream's comes from RESULTS.md.
    const [, , upstreamMb] = fromReadme(/\*\*Binary\*\*: (\d+) MB for amd64, against upstream's (\d+) MB/);
    const theirs = /\| upstream [\d.]+ \|[^\n]*\| ([\d.]+) MB \(amd64/.exec(results)![1];
    expect(Math.round(Number(theirs))).toEqual(Number(upstreamMb));

    const [, runs] = fromReadme(/All figures are medians of\s+(\d+) runs/);
    expect(results).toContain(`## Results (median of ${runs} runs`);
    const [, minutes] = fromReadme(/It takes about (\d+) minutes on 2 cores/);
    const seconds = Number(/ in (\d+) s;/.exec(results)![1]);
    expect(Math.round(seconds / 60)).toBe(Number(minutes));
    expect(results).toMatch(/\b2 cores\b/);
  });

  test('Lambda-like conditions: each peer\'s wall time as a multiple of ours, from the `lambda` table', () => {
    // The README's command is the one RESULTS.md was generated by.
    const [, command] = fromReadme(/^`(BENCH_CONDITIONS=[^`]+ bash bench\/run\.sh)` \(as root\) compares/m);
    expect(results).toContain(`Generated by \`${command}\``);
    const lambda = results.slice(results.indexOf('\n### lambda\n'));
    expect(lambda.length).toBeLessThan(results.length);
    const section = lambda.slice(0, lambda.indexOf('\n## ', 1) > 0 ? lambda.indexOf('\n## ', 1) : undefined);
    const table = section.split('\n').filter(l => l.startsWith('|')).map(l => l.split('|').slice(1, -1).map(c => c.trim()));
    // `lambda` table columns: case, copier, runs ok, wall, wall / ours, …
    const wallVsOurs = (label: string, copier: string): string => {
      const start = table.findIndex(r => r[0].startsWith(label));
      expect(start).toBeGreaterThanOrEqual(0);
      for (let i = start; i < table.length && (i === start || table[i][0] === ''); i++) {
        if (table[i][1].startsWith(copier)) return table[i][4];
      }
      throw new Error(`no ${copier} row for ${label} in the lambda table`);
    };
    const header = README.split('\n').find(l => l.startsWith('| case | upstream'))!.split('|').slice(2, -1).map(c => c.trim());
    expect(header).toEqual(['upstream 4.2.65', 'skopeo', 'crane', 'regctl']);
    const copiers = ['upstream 4.2.65', 'skopeo', 'crane', 'regctl'];
    let checked = 0;
    for (const [readme, bench] of [
      ['fresh copy of 263 MB', '1. fresh copy'],
      ['2-arch index', '3. 2-arch index, CopyImageIndex, fresh'],
      ['re-run into the same tag', '2. re-run into the same tag'],
    ]) {
      const row = README.split('\n').filter(l => l.startsWith(`| ${readme} |`)).map(l => l.split('|').slice(1, -1).map(c => c.trim()))
        .find(r => r.length === 5);
      expect(row).toBeDefined();
      copiers.forEach((c, i) => {
        expect({ readme, c, ratio: row![i + 1] }).toEqual({ readme, c, ratio: wallVsOurs(bench, c) });
        checked++;
      });
    }
    expect(checked).toBe(12);
    fromReadme(/held to 0\.29 vCPU, as a 512 MB function is, and every\s+connection through a proxy adding 15 ms each way and capping it at 40 MB\/s/);
    expect(results).toContain('**0.29 vCPU**');
    expect(results).toContain('**15 ms latency each way**');
    expect(results).toContain('**40 MB/s bandwidth cap per connection**');
  });

  test('S3 archives under the CPU cap: the ratios to the registry copy are those RESULTS.md judges issue 13\'s target by', () => {
    const [, classic, docker25] = fromReadme(/\*\*S3 archives under the 0\.29 vCPU cap\*\*[^]*?`docker save` archive copies in ([\d.]+)×[^]*?Docker 25 archive in ([\d.]+)×/);
    const m = /Issue 13's target, [^\n]*judged with the static S3: classic archive ([\d.]+)×, (met|\*\*not met\*\*); Docker 25 archive ([\d.]+)×, (met|\*\*not met\*\*)\./.exec(results);
    expect(m).not.toBeNull();
    expect({ classic, docker25 }).toEqual({ classic: m![1], docker25: m![3] });
    // The README states them as within the target: RESULTS.md must say so too.
    expect([m![2], m![4]]).toEqual(['met', 'met']);
  });

  test('within one registry: the times, the ratio and 0 blob bytes are case 9\'s', () => {
    const [, same, across, ratio] = fromReadme(/\*\*Within one registry\*\* the same 263 MB image copies in ([\d.]+) s against ([\d.]+) s across\s+registries \(([\d.]+)×\), moving 0 blob bytes/);
    const m = /Ours, same registry \/ across registries: \*\*([\d.]+)×\*\* of the wall time \(([\d.]+) s vs ([\d.]+) s;/.exec(results);
    expect(m).not.toBeNull();
    expect({ same, across }).toEqual({ same: m![2], across: m![3] });
    expect(Number(m![1]).toFixed(2)).toBe(Number(ratio).toFixed(2));
    // Case 9's table: ours within one registry read and wrote 0 blob bytes.
    const row = rows.find(r => r[0] === 'ours' && r[1] === 'same registry');
    expect(row).toBeDefined();
    expect({ read: row![4], written: row![5] }).toEqual({ read: '0', written: '0' });
  });

  test('the upstream release compared is the one README names, and the drop-in test uses', () => {
    const [, version] = fromReadme(/compares the handler\s+with upstream ([\d.]+) and with skopeo/);
    expect(results).toContain(`upstream: cdk-ecr-deployment@${version} (npm)`);
    expect(fs.readFileSync(path.join(ROOT, 'test', 'upstream.ts'), 'utf8')).toContain(`UPSTREAM_VERSION = '${version}'`);
    fromReadme(new RegExp(`checks this against the published ${version.replace(/\./g, '\\.')}`));
  });
});

describe('README "Development": where each decision is made', () => {
  test('every file and function the table names exists', () => {
    const section = fromReadme(/Where each decision is made:\n\n([\s\S]*?)\n\n/)[1];
    const rows = section.split('\n').slice(2);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      const cell = row.split('|')[2];
      // Paths are backticked; a bare name after a path (e.g. `cases.json`, `copier/retry.go`)
      // is relative to the path before it.
      let dir = '';
      for (const [, name] of cell.matchAll(/`([^`]+)`/g)) {
        if (/^[A-Za-z]+(\.[A-Za-z]+)?$/.test(name) && !/\.(go|ts|json)$/.test(name)) {
          // A function or type name: it must be in the file named just before it.
          const file = path.join(ROOT, dir);
          expect({ file: dir, name, found: fs.statSync(file).isFile() && fs.readFileSync(file, 'utf8').includes(name.split('.').pop()!) })
            .toEqual({ file: dir, name, found: true });
          continue;
        }
        const candidates = [name, path.join(path.dirname(dir), name), path.join('lambda/internal', name)];
        const hit = candidates.find(c => fs.existsSync(path.join(ROOT, c)));
        expect({ name, exists: hit !== undefined }).toEqual({ name, exists: true });
        dir = hit!;
      }
    }
  });
});
