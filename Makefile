# The two set-up commands of the README. Both install what is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
export DIST_PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: demo test setup build

setup:
	@scripts/setup.sh

## make demo: the main job end to end on built-in defaults (synthetic videos, built-in tiny CLIP).
demo: setup
	cargo build --release -p dist-extract -p dist-train
	DEMO_BIN=target/release scripts/demo.sh

## make test: every test of every crate.
test: setup
	cargo test --workspace --no-fail-fast

build: setup
	cargo build --release --bins
