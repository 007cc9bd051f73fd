module github.com/cdk-ecr-deployment/bench/tool

go 1.26

require github.com/klauspost/pgzip v1.2.7

require github.com/klauspost/compress v1.20.3 // indirect
