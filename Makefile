# The commands of the README, by name. Each target is the script it names; nothing else to install.
.PHONY: run test bench lint format lock

run:    ## DriveNow on this machine: private PostgreSQL, two instances of each service, the gateway on :8080
	./deploy/local/run.sh

test:   ## every suite on a throwaway PostgreSQL cluster (the command CI runs)
	./deploy/local/test.sh

bench:  ## the load test (about 4 minutes)
	./deploy/loadtest/bench.sh

lint:   ## the static checks the test command also runs: ruff check, ruff format --check, mypy --strict on contracts/
	./deploy/local/test.sh --lint-only

format: ## ruff's fixes and formatting, applied (then `make lint` passes)
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

lock:   ## re-lock requirements/*.txt (pins and hashes) from requirements/*.in after editing one
	./deploy/local/lock.sh
