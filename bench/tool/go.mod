module github.com/cdk-ecr-deployment/bench/tool

go 1.26
