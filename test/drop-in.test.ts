import { App, Aws, Stack, aws_ec2 as ec2, aws_iam as iam } from 'aws-cdk-lib';
import { loadUpstream } from './upstream';
import * as ours from '../src';

type Lib = typeof ours;

/** One app, built the same way with either library. */
type AppDef = (lib: Lib, stack: Stack) => void;

function synth(lib: Lib, def: AppDef): any {
  const app = new App();
  const stack = new Stack(app, 'DropIn', { env: { account: '123456789012', region: 'us-east-1' } });
  def(lib, stack);
  return app.synth().getStackByName('DropIn').template;
}

const ecrDest = (tag: string) => `${Aws.ACCOUNT_ID}.dkr.ecr.${Aws.REGION}.amazonaws.com/my-repo:${tag}`;

const configurations: { [name: string]: AppDef } = {
  'defaults': (lib, stack) => {
    new lib.ECRDeployment(stack, 'Deploy', {
      src: new lib.DockerImageName('nginx:latest'),
      dest: new lib.DockerImageName(ecrDest('latest')),
    });
  },
  'every upstream prop': (lib, stack) => {
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const d = new lib.ECRDeployment(stack, 'Deploy', {
      src: new lib.DockerImageName('registry.example.com:5000/team/app:1.2.3', 'private-registry-secret'),
      dest: new lib.DockerImageName(ecrDest('1.2.3'), 'user:pa:ss'),
      imageArch: ['arm64'],
      retryConfigs: { numAttempts: 5, baseDelay: 2, maxDelay: 20 },
      memoryLimit: 1024,
      role,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [sg],
    });
    d.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['*'] }));
  },
  'index, arch tags and S3 source': (lib, stack) => {
    new lib.ECRDeployment(stack, 'Index', {
      src: new lib.DockerImageName('public.ecr.aws/docker/library/nginx:latest'),
      dest: new lib.DockerImageName(ecrDest('multi')),
      copyImageIndex: true,
      archImageTags: { amd64: 'multi-amd64', arm64: 'multi-arm64' },
    });
    new lib.ECRDeployment(stack, 'Archive', {
      src: new lib.S3ArchiveName('my-bucket/images/app.tar', 'app:latest'),
      dest: new lib.DockerImageName(ecrDest('from-s3')),
    });
  },
};

describe('drop-in replacement for upstream cdk-ecr-deployment', () => {
  const upstream = loadUpstream() as Lib;

  describe.each(Object.entries(configurations))('%s', (_name, def) => {
    const theirs = synth(upstream, def);
    const mine = synth(ours, def);

    test('same logical IDs and resource types', () => {
      const shape = (t: any) => Object.fromEntries(Object.entries(t.Resources).map(([id, r]: [string, any]) => [id, r.Type]));
      expect(shape(mine)).toEqual(shape(theirs));
    });

    test('same custom-resource properties', () => {
      const props = (t: any) => Object.entries(t.Resources)
        .filter(([, r]: [string, any]) => r.Type === 'Custom::CDKECRDeployment')
        .map(([id, r]: [string, any]) => [id, r.Properties]);
      expect(props(mine).length).toBeGreaterThan(0);
      expect(props(mine)).toEqual(props(theirs));
    });

    test('same Lambda functions except the code asset', () => {
      const fns = (t: any) => Object.entries(t.Resources)
        .filter(([, r]: [string, any]) => r.Type === 'AWS::Lambda::Function')
        .map(([id, r]: [string, any]) => {
          const { Code, ...rest } = r.Properties;
          expect(Code.S3Key).toMatch(/\.zip$/);
          return [id, rest, r.DependsOn];
        });
      expect(fns(mine).length).toBeGreaterThan(0);
      expect(fns(mine)).toEqual(fns(theirs));
    });
  });
});

// Upstream takes any imageArch string at synth time (it only checks there is exactly one).
// Every such app synthesizes with ours too, with the same ImageArch property; what the
// handler may not find gets a warning instead of an error.
describe('every imageArch upstream synthesizes, ours synthesizes the same', () => {
  const upstream = loadUpstream() as Lib;
  const archOf = (template: any) => Object.values(template.Resources)
    .filter((r: any) => r.Type === 'Custom::CDKECRDeployment')
    .map((r: any) => r.Properties.ImageArch);

  test.each([['arm64'], ['arm/v7'], ['arm64/v8'], ['linux/arm64'], ['linux/arm/v6'], ['windows/amd64'], ['banana'], ['x86_64'],
    ['ARM64'], ['linux/arm64/v8/extra'], ['not an arch'], [''], ['amd64,arm64']])('%j', (arch: string) => {
    const def: AppDef = (lib, stack) => {
      new lib.ECRDeployment(stack, 'Deploy', {
        src: new lib.DockerImageName('nginx:latest'),
        dest: new lib.DockerImageName(ecrDest('latest')),
        imageArch: [arch],
      });
    };
    const theirs = synth(upstream, def);
    const mine = synth(ours, def);
    expect(archOf(mine)).toEqual(archOf(theirs));
  });

  test('archImageTags with any architecture key synthesizes with both', () => {
    const def: AppDef = (lib, stack) => {
      new lib.ECRDeployment(stack, 'Deploy', {
        src: new lib.DockerImageName('nginx:latest'),
        dest: new lib.DockerImageName(ecrDest('latest')),
        copyImageIndex: true,
        archImageTags: { 'arm/v7': 'v7', 'banana': 'b', 'x86': 'x' },
      });
    };
    const tags = (t: any) => Object.values(t.Resources).filter((r: any) => r.Type === 'Custom::CDKECRDeployment').map((r: any) => r.Properties.ArchImageTags);
    expect(tags(synth(ours, def))).toEqual(tags(synth(upstream, def)));
  });
});
