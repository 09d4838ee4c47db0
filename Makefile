# The two commands of the README, plus helpers. Every target installs the
# native dependencies first (scripts/setup is a no-op once they are there).
.PHONY: setup demo test lint bench

setup:
	@scripts/setup

# The main job: train a small team on spread, evaluate it, plot the curve.
demo: setup
	cargo run --release -- quickstart

# Every test of the workspace (unit, learning, end-to-end), some of them
# against independent Python implementations (scripts/setup-checks).
test: setup
	@scripts/setup-checks
	cargo test --workspace --all-targets --no-fail-fast

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: setup
	cargo bench --workspace
