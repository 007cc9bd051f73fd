"""Every ECRDeployment feature, used from Python. Synthesized by test_full_feature_app.py.

Run like any CDK app: `cdk synth`, or CDK_OUTDIR=DIR VENV/bin/python test/python/apps/full_feature_app.py.
"""
from aws_cdk import (
    App,
    CfnOutput,
    RemovalPolicy,
    Stack,
    aws_ec2 as ec2,
    aws_ecr as ecr,
    aws_iam as iam,
    aws_lambda as lambda_,
    aws_secretsmanager as secretsmanager,
)
from constructs import Construct

from cdk_ecr_deployment import DockerImageName, ECRDeployment, S3ArchiveName


class FullFeatureStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        repo = ecr.Repository(self, "Repo", repository_name="full-feature")
        vpc = ec2.Vpc(self, "Vpc", max_azs=1)
        handler_sg = ec2.SecurityGroup(self, "HandlerSg", vpc=vpc, description="ECRDeployment handler")

        # A `docker save` tarball in S3, one architecture, custom retries and memory, inside a VPC.
        from_archive = ECRDeployment(self, "FromArchive",
            src=S3ArchiveName("my-image-bucket/images/app.tar", "app:latest"),
            dest=DockerImageName(repo.repository_uri_for_tag("archive")),
            image_arch=["arm64"],
            retry_configs={"numAttempts": 5, "baseDelay": 2, "maxDelay": 30},
            memory_limit=1024,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[handler_sg],
        )
        # The archive is encrypted with a key the construct cannot see.
        from_archive.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=["arn:aws:kms:us-east-1:123456789012:key/archive-key"],
        ))

        # A private registry whose credentials are a Secrets Manager secret *name*; the whole
        # image index with per-architecture tags; an arm64 handler with its own environment;
        # extra destination tags; the destination tag deleted with the stack.
        multi_arch = ECRDeployment(self, "MultiArchIndex",
            src=DockerImageName("registry.example.com/team/app:1.2.3", "registry-creds"),
            dest=DockerImageName(repo.repository_uri_for_tag("1.2.3")),
            copy_image_index=True,
            arch_image_tags={"amd64": "1.2.3-amd64", "arm64": "1.2.3-arm64"},
            lambda_architecture=lambda_.Architecture.ARM_64,
            environment={"LOG_LEVEL": "debug", "NO_PROXY": ".amazonaws.com"},
            dest_tags=["stable", "1.2"],
            removal_policy=RemovalPolicy.DESTROY,
        )

        # Credentials from a secret object: the handler is granted read on exactly that secret.
        ghcr_creds = secretsmanager.Secret(self, "GhcrCreds")
        ECRDeployment(self, "FromSecret",
            src=DockerImageName.from_secret("ghcr.io/org/app:2.0", ghcr_creds),
            dest=DockerImageName(repo.repository_uri_for_tag("2.0")),
        )

        # The copied image pinned by digest, for deployments that must run exactly it.
        CfnOutput(self, "ImageDigest", value=multi_arch.image_digest)
        CfnOutput(self, "ImageUri", value=multi_arch.image_uri)


app = App()
FullFeatureStack(app, "FullFeatureStack")
app.synth()
