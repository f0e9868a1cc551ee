# GroupChat. Every target installs what it needs (pinned) and delegates the
# real work to scripts/ so each step reads on one screen.
SHELL := /bin/bash
ENV ?= dev
export GOFLAGS := -buildvcs=false
# At least the Go release go.mod's toolchain line pins (a patched one, fetched
# once through the module proxy when the go on PATH is older).
export GOTOOLCHAIN ?= auto

.PHONY: dev test test-fast test-loaded build lint lint-infra deps synth bootstrap deploy diff preflight smoke bench fuzz clean

## dev [LAMBDA=env|inprocess]: run the whole chat locally (local API Gateway stand-in, dynalite, the local sign-in issuer), no AWS account;
## by default (LAMBDA=env) the deployed binary in execution environments held to Lambda's CPU share; LAMBDA=inprocess in one process (docs/local.md)
dev: deps
	@scripts/dev.sh

## test: every test: Go unit and integration, lint, CDK templates, frontend, browser end to end
test: deps
	@scripts/test.sh

## test-fast: the inner loop (figures in README, Tests): go test -short ./... (no dynalite, local stack, CDK synth or fault scenarios) and the page's typecheck and unit tests
test-fast:
	@scripts/test-fast.sh

## test-loaded [RUNS=5]: make test RUNS times in a row on a clean clone of HEAD while a busy loop keeps every core busy
test-loaded:
	@scripts/test-loaded.sh $(or $(RUNS),5)

## build: the Lambda bootstrap for provided.al2023 arm64 into bin/lambda/bootstrap
build:
	@scripts/build-lambda.sh bin/lambda

## lint: gofmt, goimports, go mod tidy -diff, go vet, staticcheck, govulncheck (offline database; tools pinned in go.mod)
lint:
	@scripts/lint.sh

## lint-infra: synth every environment, then cfn-lint (+ serverless rules) and checkov from a pinned .venv
lint-infra: deps
	@scripts/test-infra.sh

## deps: the pinned npm packages at the root: dynalite, cognito-local (the local sign-in issuer), the CDK CLI
deps:
	@scripts/deps.sh

## bench: Go benchmarks (handler cost, binary size), local-stack broadcast/pool/items benchmarks, the steady load run
bench: deps
	@scripts/bench.sh

## fuzz: a short fixed-count run of every fuzz target (about 10 s each)
fuzz:
	@scripts/fuzz.sh

## preflight [ENV=dev|prod]: with your AWS credentials, one table of what a deploy of ENV needs (make deploy runs it first)
preflight:
	@scripts/preflight.sh $(ENV)

## synth | bootstrap | diff | deploy [ENV=dev|prod]: the CDK app (synth does every environment)
## deploy [APPROVAL=broadening|never|any-change]: never for pipelines (no terminal to confirm IAM broadening);
## after the deploy it starts the Amplify build when the page lacks the deployed WebSocket URL,
## then runs make smoke (SMOKE=0: not)
synth bootstrap deploy diff: deps
	@APPROVAL=$(APPROVAL) $(if $(SMOKE),SMOKE=$(SMOKE) )scripts/cdk.sh $@ $(ENV)

## smoke [ENV=dev|prod|local]: sign two temporary accounts in to the deployed stage, exchange messages, check the page (docs/deploy.md)
smoke:
	@scripts/smoke.sh $(ENV)

clean:
	rm -rf bin cdk.out node_modules frontend/node_modules frontend/dist .venv .venv-moto
